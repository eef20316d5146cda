import { quoteWord } from './shell.js';

/**
 * The mysql client as the roles and the probe run it: as root over the unix socket, SQL on stdin.
 * printf is a shell builtin, so the SQL (and any secret in it) reaches mysql through a pipe, never
 * argv.
 */
export function mysqlScript(statements: readonly string[], clientArgs = ''): string {
  return `printf '%s\\n' ${quoteWord(statements.join('\n'))} | mysql${clientArgs ? ' ' + clientArgs : ''}`;
}

/** A string literal for MariaDB/MySQL in their default sql_mode (backslash escapes on); every inventory value and secret put in SQL goes through it. */
export function sqlString(value: string): string {
  const escaped = value.replace(/[\\'\n\r\0]/g, (char) => ({ '\\': '\\\\', "'": "''", '\n': '\\n', '\r': '\\r', '\0': '\\0' })[char] as string);
  return `'${escaped}'`;
}
