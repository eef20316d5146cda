import { sqlString } from '../core/mysql-client.js';
import { quoteWord } from '../core/shell.js';
import type { CommandResource, DbReplicationResource, SqlGuard } from '../core/types.js';
import { DB_FACT_TAG, parseDbFact, serverReadScript } from '../db/replication.js';
import type { ProbeFragment } from './kind.js';

/**
 * The probe's questions to the host's own tools, shared by the command and db-replication kinds:
 * the commands' shell guards one by one, then one mysql run for every SQL guard and, on a db host,
 * the replication state and status (serverReadScript). Asked separately, a db host's probe started
 * the mysql client three times, 80 of its 87 ms of CPU.
 */

/** The tag of a probe line carrying an SQL guard's value: `Q<TAB>name<TAB>value`. */
export const SQL_GUARD_TAG = 'Q';

export function isSqlGuard(guard: string | SqlGuard): guard is SqlGuard {
  return typeof guard !== 'string';
}

/**
 * The SELECTs that give `Q<TAB>name<TAB>value` rows for the guards. The mysql run carries on past
 * a query that fails (e.g. a table that does not exist yet): its row is missing and the guard is
 * read as not holding, as it is when mysql itself is missing or down.
 */
export function sqlGuardSelects(guards: readonly { name: string; sql: string }[]): string[] {
  return guards.map(({ name, sql }) => `SELECT '${SQL_GUARD_TAG}' AS infra_tag, ${sqlString(name)} AS infra_key, (${sql}) AS infra_value;`);
}

/** A shell guard's probe line: `G<TAB>name<TAB>exit status`. */
function shellGuardProbe(command: CommandResource): string {
  return `( ${command.unless as string} ) >/dev/null 2>&1; printf "G\\t%s\\t%s\\n" ${quoteWord(command.name)} "$?"`;
}

export const serverReads: ProbeFragment<CommandResource | DbReplicationResource> = {
  order: 60,
  tags: ['G', SQL_GUARD_TAG, DB_FACT_TAG],
  script(resources) {
    const commands = resources.filter((resource): resource is CommandResource => resource.kind === 'command');
    const replication = resources.find((resource): resource is DbReplicationResource => resource.kind === 'db-replication');
    const sqlGuards = commands.flatMap((command) => (isSqlGuard(command.unless) ? [{ name: command.name, sql: command.unless.sql }] : []));
    const lines = commands.filter((command) => !isSqlGuard(command.unless)).map(shellGuardProbe);
    if (replication || sqlGuards.length > 0) {
      lines.push(serverReadScript(replication?.flavor, sqlGuards.length > 0 ? { tag: SQL_GUARD_TAG, statements: sqlGuardSelects(sqlGuards) } : undefined));
    }
    return lines;
  },
  parse(lines, facts) {
    const db = parseDbFact(lines.filter((fields) => fields[0] === DB_FACT_TAG).map((fields) => fields.slice(1)));
    if (db) facts.db = db;
    for (const [tag, name, value] of lines) {
      if (tag === DB_FACT_TAG || !name) continue;
      if (tag === 'G') facts.guards[name] = Number(value);
      else facts.queries[name] = value ?? '';
    }
  },
};
