import { createHash } from 'node:crypto';
import { quoteWord } from '../core/shell.js';

/**
 * SQL text for MariaDB/MySQL in their default sql_mode (backslash escapes on): every inventory
 * value and secret put in SQL goes through these.
 */
export function sqlString(value: string): string {
  const escaped = value.replace(/[\\'\n\r\0]/g, (char) => ({ '\\': '\\\\', "'": "''", '\n': '\\n', '\r': '\\r', '\0': '\\0' })[char] as string);
  return `'${escaped}'`;
}

export function sqlIdentifier(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

export function sqlAccount(user: string, host: string): string {
  return `${sqlString(user)}@${sqlString(host)}`;
}

/**
 * The mysql_native_password hash of a password (`*` + SHA1(SHA1(password)) in upper-case hex).
 * Accounts are created with the hash, so the clear password is never sent to the server, and a
 * guard can check that an account has the desired password without knowing it.
 */
export function nativePasswordHash(password: string): string {
  const sha1 = (data: Buffer | string) => createHash('sha1').update(data).digest();
  return '*' + sha1(sha1(password)).toString('hex').toUpperCase();
}

/**
 * Shell text that feeds `statements` to the mysql client as root over the unix socket. printf is
 * a shell builtin, so the SQL (and any secret in it) reaches mysql through a pipe, never argv.
 */
export function mysqlScript(statements: readonly string[], clientArgs = ''): string {
  return `printf '%s\\n' ${quoteWord(statements.join('\n'))} | mysql${clientArgs ? ' ' + clientArgs : ''}`;
}

/** A guard: runs one query whose single result must be exactly `expected`. */
export function mysqlQueryIs(query: string, expected: string): string {
  return `${mysqlScript([query], '-N -B')} | grep -qxF ${quoteWord(expected)}`;
}
