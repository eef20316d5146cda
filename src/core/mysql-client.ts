import { quoteWord } from './shell.js';

/**
 * The mysql client as the roles and the probe run it: as root over the unix socket, SQL on stdin.
 * printf is a shell builtin, so the SQL (and any secret in it) reaches mysql through a pipe, never
 * argv.
 */
export function mysqlScript(statements: readonly string[], clientArgs = ''): string {
  return `printf '%s\\n' ${quoteWord(statements.join('\n'))} | mysql${clientArgs ? ' ' + clientArgs : ''}`;
}

/**
 * A command guard that one SQL query answers: it holds when the query's single value is exactly
 * `expected`. Kept as data (not shell) so the probe reads every such guard of a host with a single
 * mysql client run instead of one client per guard.
 */
export interface SqlGuard {
  sql: string;
  expected: string;
  /** When set, the plan shows what the query found under this label ("to drop: …"). */
  showsAs?: string;
}

export function isSqlGuard(guard: string | SqlGuard): guard is SqlGuard {
  return typeof guard !== 'string';
}

/** The guard as shell text exiting 0 when it holds (run right before its command). */
export function guardShell(guard: string | SqlGuard): string {
  return isSqlGuard(guard) ? `${mysqlScript([guard.sql], '-N -B')} | grep -qxF ${quoteWord(guard.expected)}` : guard;
}

/** The tag of a probe line carrying an SQL guard's value: `Q<TAB>name<TAB>value`. */
export const SQL_GUARD_TAG = 'Q';

/**
 * One mysql run that prints `Q<TAB>name<TAB>value` for every guard. `--force` carries on past a
 * query that fails (e.g. a table that does not exist yet): its line is missing and the guard is
 * read as not holding, as it is when mysql itself is missing or down.
 */
export function sqlGuardBatch(guards: readonly { name: string; sql: string }[]): string {
  const statements = guards.map(({ name, sql }) => `SELECT '${SQL_GUARD_TAG}', ${sqlString(name)}, (${sql});`);
  return `mysql -N -B --force <<< ${quoteWord(statements.join('\n'))} 2>/dev/null`;
}

/** A string literal for MariaDB/MySQL in their default sql_mode (backslash escapes on); every inventory value and secret put in SQL goes through it. */
export function sqlString(value: string): string {
  const escaped = value.replace(/[\\'\n\r\0]/g, (char) => ({ '\\': '\\\\', "'": "''", '\n': '\\n', '\r': '\\r', '\0': '\\0' })[char] as string);
  return `'${escaped}'`;
}
