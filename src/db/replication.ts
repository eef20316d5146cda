import { mysqlScript, sqlString } from '../core/mysql-client.js';
import { quoteWord } from '../core/shell.js';
import type { DbHostRef, DbReplicationFact, DbReplicationResource, Facts } from '../core/types.js';
import type { ResourceVerdict } from '../resources/verdict.js';
import { formatGtids, gtidsMissing, parseGtidState, type GtidFlavor } from './gtid.js';

/**
 * The `db-replication` resource kind in one place: the SQL each server speaks, the probe fragment
 * and its parser, the planning on one host, the checks across db hosts, and the switchover.
 */

interface ReplicationSql {
  /** One row: read_only, every transaction held, the position a replica waits for. */
  state: string;
  status: string;
  /** Status fields: the source, its threads, and what the replica received from it. */
  fields: { source: string; io: string; sql: string; received: string };
  /** One value, 0 once the server has applied `position`; anything else after `seconds`. */
  waitFor: (position: string, seconds: number) => string;
  /** Stop replicating and forget the source, then take writes. */
  promote: string[];
}

export const REPLICATION_SQL: Record<GtidFlavor, ReplicationSql> = {
  mariadb: {
    state: 'SELECT @@GLOBAL.read_only + 0, @@GLOBAL.gtid_binlog_state, @@GLOBAL.gtid_binlog_pos',
    status: 'SHOW SLAVE STATUS',
    fields: { source: 'Master_Host', io: 'Slave_IO_Running', sql: 'Slave_SQL_Running', received: 'Gtid_IO_Pos' },
    waitFor: (position, seconds) => `SELECT MASTER_GTID_WAIT(${sqlString(position)}, ${seconds})`,
    promote: ['STOP SLAVE;', 'RESET SLAVE ALL;', 'SET GLOBAL read_only = 0;'],
  },
  mysql: {
    // gtid_executed breaks its lines after each server's set.
    state: "SELECT @@GLOBAL.read_only + 0, REPLACE(@@GLOBAL.gtid_executed, '\\n', ''), REPLACE(@@GLOBAL.gtid_executed, '\\n', '')",
    status: 'SHOW REPLICA STATUS',
    fields: { source: 'Source_Host', io: 'Replica_IO_Running', sql: 'Replica_SQL_Running', received: 'Retrieved_Gtid_Set' },
    waitFor: (position, seconds) => `SELECT WAIT_FOR_EXECUTED_GTID_SET(${sqlString(position)}, ${seconds})`,
    promote: ['STOP REPLICA;', 'RESET REPLICA ALL;', 'SET GLOBAL super_read_only = 0;', 'SET GLOBAL read_only = 0;'],
  },
};

/** The tag of the probe's replication lines. */
export const DB_FACT_TAG = 'DB';

/**
 * Turns what `mysql -B --force 2>&1` prints for a server read (serverReadScript) into probe lines:
 * the rows of `pass` as they are; the replica status's header and row (batch output escapes tabs
 * and newlines in values) into `DB<TAB>Field: value` lines for the `wanted` fields; and those with
 * the state row only when neither query failed. The status is the second statement, so its error
 * is the one "at line 2". A status that could not be read (the server refusing connections under
 * load: "Too many connections") is not an empty one: read as "replicates from nobody", a
 * switchover would promote a replica without draining the old primary.
 */
const SERVER_READ_AWK = [
  'BEGIN { FS = "\t"; OFS = "\t" }',
  '/^ERROR [0-9]+ \\([^)]*\\) at line 2: / { if (db) refused = 1; next }',
  '/^ERROR / { next }',
  '/^(Slave|Replica)_IO_State\t/ { for (i = 1; i <= NF; i++) names[i] = $i; fields = 1; next }',
  'fields { for (i = 1; i <= NF; i++) if (names[i] ~ wanted) { v = $i; gsub(/\\\\n/, "", v); status[++n] = names[i] ": " v }; fields = 0; next }',
  `$1 == "${DB_FACT_TAG}" && $2 == "state" { state = $0; next }`,
  'pass != "" && $1 == pass { print }',
  `END { if (state != "" && !refused) { print state; for (i = 1; i <= n; i++) print "${DB_FACT_TAG}", status[i] } }`,
].join('\n');

/**
 * One mysql run for everything a probe asks a db server: with `flavor`, the replica status and the
 * state (`DB<TAB>state<TAB>read_only<TAB>gtid state<TAB>position`, then `DB<TAB>Field: value`
 * lines, only when the server answered both); with `rows`, statements whose rows start with
 * `rows.tag`, printed as they are. One client start instead of one per query: each costs a host
 * about 20 ms of CPU.
 */
export function serverReadScript(flavor: GtidFlavor | undefined, rows?: { tag: string; statements: readonly string[] }): string {
  const statements: string[] = [];
  let wanted = '';
  if (flavor) {
    const sql = REPLICATION_SQL[flavor];
    // The state before the status: a replica under writes applies transactions between the two
    // reads, and each one it holds must then be among those the status says it received, or the
    // errant-transaction check would take the primary's newest write for one of the replica's own.
    statements.push(`${sql.state.replace(/^SELECT /, `SELECT '${DB_FACT_TAG}' AS infra_tag, 'state' AS infra_key, `)};`, `${sql.status};`);
    wanted = `^(${Object.values(sql.fields).join('|')})$`;
  }
  statements.push(...(rows?.statements ?? []));
  return (
    `mysql -B --force <<< ${quoteWord(statements.join('\n'))} 2>&1 | ` +
    `awk -v db=${flavor ? 1 : 0} -v pass=${quoteWord(rows?.tag ?? '')} -v wanted=${quoteWord(wanted)} ${quoteWord(SERVER_READ_AWK)}`
  );
}

/** The replication facts alone (serverReadScript), as the switchover reads them. */
export function dbFactProbe(flavor: GtidFlavor): string {
  return serverReadScript(flavor);
}

/** Reads the fields of the probe's `DB` lines (without their tag) into the fact, or undefined. */
export function parseDbFact(lines: readonly string[][]): DbReplicationFact | undefined {
  const state = lines.find((fields) => fields[0] === 'state');
  if (!state) return undefined;
  const fact: DbReplicationFact = { readOnly: state[1] === '1', gtidState: state[2] ?? '', gtidPosition: state[3] ?? '' };
  const status = new Map(
    lines
      .filter((fields) => fields[0] !== 'state')
      .map((fields) => {
        const [key = '', value = ''] = fields.join('\t').split(/:\s?(.*)/s);
        return [key, value.trim()];
      }),
  );
  const host = status.get('Master_Host') ?? status.get('Source_Host');
  if (host) {
    fact.source = {
      host,
      ioRunning: status.get('Slave_IO_Running') ?? status.get('Replica_IO_Running') ?? '',
      sqlRunning: status.get('Slave_SQL_Running') ?? status.get('Replica_SQL_Running') ?? '',
      received: status.get('Gtid_IO_Pos') ?? status.get('Retrieved_Gtid_Set') ?? '',
    };
  }
  return fact;
}

function isPrimary(resource: DbReplicationResource): boolean {
  return resource.primary.name === resource.host;
}

function dbHostAt(resource: DbReplicationResource, address: string): DbHostRef | undefined {
  return resource.dbHosts.find((candidate) => candidate.address === address && candidate.name !== resource.host);
}

/** The planning on one host: only the primary has work of its own (a replica's is its commands'). */
export function planDbReplication(resource: DbReplicationResource, facts: Facts): ResourceVerdict {
  const db = facts.db;
  if (!db) return { action: 'noop', reason: 'the server does not answer yet (a new server starts writable, a replica is then made read-only)' };
  if (!isPrimary(resource)) return { action: 'noop', reason: 'a replica: its commands make it read-only and point it at the primary' };
  if (db.source) {
    const from = dbHostAt(resource, db.source.host);
    if (!from)
      return { action: 'update', reason: `replicates from ${db.source.host}, which is no db host of the inventory: switch refused (see infra db failover)` };
    return {
      action: 'update',
      reason: `switch primary ${from.name} → ${resource.host}: ${from.name} read-only and drained, ${resource.host} applies all of its transactions (at most ${resource.catchUpSeconds} s), then is promoted`,
    };
  }
  if (db.readOnly) return { action: 'update', reason: 'read-only and replicating from nobody: made writable' };
  return { action: 'noop', reason: 'the writable primary, replicating from nobody' };
}

/** A db host as the checks across hosts see it: its resource and, when its server answered, its facts. */
export interface DbHostReading {
  resource: DbReplicationResource;
  db?: DbReplicationFact;
}

/**
 * The transactions a replica holds that the primary lacks (errant GTIDs), by replica, when both
 * were read. A replica the primary still replicates from (a switchover about to run) is left out:
 * the switchover itself waits until the primary has them all. What a replica received from the
 * primary itself is never errant: the hosts are read at once but not at the same instant, so
 * under writes a replica can hold the primary's transactions committed after the primary was read.
 */
export function errantTransactions(readings: readonly DbHostReading[]): Map<string, string> {
  const errant = new Map<string, string>();
  const primary = readings.find((reading) => isPrimary(reading.resource));
  if (!primary?.db) return errant;
  const flavor = primary.resource.flavor;
  const primaryState = parseGtidState(flavor, primary.db.gtidState);
  for (const reading of readings) {
    if (reading === primary || !reading.db) continue;
    const self = reading.resource.dbHosts.find((h) => h.name === reading.resource.host);
    if (self && primary.db.source?.host === self.address) continue;
    const received = reading.db.source?.host === primary.resource.primary.address ? parseGtidState(flavor, reading.db.source.received) : new Map();
    const missing = gtidsMissing(gtidsMissing(parseGtidState(flavor, reading.db.gtidState), primaryState), received);
    if (missing.size > 0) errant.set(reading.resource.host, formatGtids(flavor, missing));
  }
  return errant;
}

/** The refusal for a replica that holds errant transactions: what they are and what to do. */
export function errantRefusal(host: string, primary: string, gtids: string): string {
  return (
    `${host} holds transactions the primary ${primary} lacks (errant GTIDs ${gtids}): written on ${host} while it did not ` +
    `replicate from ${primary}, e.g. an old primary's last writes that no replica received before a failover. Made a ` +
    `replica as it is, it would fail or diverge. Keep them: apply them on ${primary} by hand, then rebuild ${host}; ` +
    `drop them: rebuild ${host} from ${primary} (docs/db-failover.md, "A returning host with errant transactions")`
  );
}

/**
 * What `infra check` reports across db hosts: a primary other than the inventory's, more than one
 * writable host, a replica replicating from another source than the primary. Errant transactions
 * are the replicas' own plan refusals.
 */
export function dbTopologyDrift(readings: readonly DbHostReading[]): string[] {
  const primary = readings.find((reading) => isPrimary(reading.resource));
  if (!primary) return [];
  const problems: string[] = [];
  const answered = readings.filter((reading) => reading.db);
  const writable = answered.filter((reading) => !reading.db?.readOnly).map((reading) => reading.resource.host);
  if (writable.length > 1) problems.push(`${writable.join(' and ')} are writable at once: two primaries can take writes (split brain)`);
  const name = primary.resource.host;
  if (primary.db?.source) problems.push(`the inventory's primary ${name} replicates from ${primary.db.source.host}`);
  else if (primary.db?.readOnly) problems.push(`the inventory's primary ${name} is read-only`);
  for (const reading of answered) {
    if (reading === primary) continue;
    const host = reading.resource.host;
    const source = reading.db?.source?.host;
    if (!reading.db?.readOnly && !source) problems.push(`${host} acts as a primary (writable, replicating from nobody) but the inventory's primary is ${name}`);
    else if (!source) problems.push(`${host} replicates from nobody, not from the primary ${name}`);
    else if (source !== primary.resource.primary.address) {
      const known = reading.resource.dbHosts.find((h) => h.address === source);
      problems.push(
        `${host} replicates from ${known ? `${known.name} (${source})` : source}, not from the primary ${name} (${primary.resource.primary.address})`,
      );
    }
  }
  return problems;
}

// ---------------------------------------------------------------- switchover

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs shell text on a db host (as root, over the run's connection). */
export type RunOnHost = (host: DbHostRef, script: string) => Promise<ScriptResult>;

/** The position line a script prints for the controller: `@@position<TAB>…`. */
const POSITION_MARK = '@@position';

/**
 * Put before every script of the switchover. While the primary moves, an app's writes retrying on
 * every db host can take all of a server's connection slots, and the server then refuses infra's
 * own connection too (ERROR 1040, seen on MySQL under load). This `mysql` tries again every 0.2 s,
 * for up to 10 s, while the server answers so; its stdin is kept for the next try.
 */
const MYSQL_RETRIED_WHEN_FULL = [
  'mysql() {',
  '  local __in __err __rc __try',
  '  __in=$(cat)',
  '  for __try in $(seq 50); do',
  `    { __err=$(printf '%s\\n' "$__in" | command mysql "$@" 2>&1 1>&3 3>&-); } 3>&1`,
  '    __rc=$?',
  "    [[ $__rc -ne 0 && $__err == *'ERROR 1040'* ]] || break",
  '    sleep 0.2',
  '  done',
  '  [ -z "$__err" ] || printf \'%s\\n\' "$__err" >&2',
  '  return $__rc',
  '}',
].join('\n');

function switchoverScript(lines: readonly string[]): string {
  return [MYSQL_RETRIED_WHEN_FULL, ...lines].join('\n');
}

/** Reads the replication facts of a host, as the probe does. */
export function readStateScript(flavor: GtidFlavor): string {
  return switchoverScript([dbFactProbe(flavor), 'exit 0']);
}

export function parseStateOutput(stdout: string): DbReplicationFact | undefined {
  return parseDbFact(
    stdout
      .split('\n')
      .map((line) => line.split('\t'))
      .filter((fields) => fields[0] === DB_FACT_TAG)
      .map((fields) => fields.slice(1)),
  );
}

/**
 * The old primary stops taking writes: read_only (which waits for the commits under way, at most
 * 10 s for its lock), then the app's connections cut, so none holds a transaction open; then it
 * prints its position, which holds every write it acknowledged.
 */
export function demoteScript(flavor: GtidFlavor, appUser: string): string {
  const kills = `SELECT CONCAT('KILL CONNECTION ', ID, ';') FROM information_schema.PROCESSLIST WHERE USER = ${sqlString(appUser)} AND ID <> CONNECTION_ID()`;
  const position = flavor === 'mariadb' ? '@@GLOBAL.gtid_binlog_pos' : "REPLACE(@@GLOBAL.gtid_executed, '\\n', '')";
  return switchoverScript([
    'set -o pipefail',
    `${mysqlScript(['SET SESSION lock_wait_timeout = 10;', 'SET GLOBAL read_only = 1;'])} || exit 1`,
    // A connection may end between the list and its KILL: --force carries on, errors are expected.
    `${mysqlScript([kills], '-N -B')} | mysql --force >/dev/null 2>&1`,
    `__pos=$(${mysqlScript([`SELECT ${position}`], '-N -B')}) || exit 1`,
    `printf '${POSITION_MARK}\\t%s\\n' "$__pos"`,
  ]);
}

/** Undoes demoteScript when the switchover cannot go on: the old primary takes writes again. */
export function undoDemoteScript(): string {
  return switchoverScript([mysqlScript(['SET GLOBAL read_only = 0;'])]);
}

/** Waits (bounded) until the host has applied `position`; prints its own position when it has not. */
export function catchUpScript(flavor: GtidFlavor, position: string, seconds: number): string {
  const sql = REPLICATION_SQL[flavor];
  return switchoverScript([
    `__done=$(${mysqlScript([sql.waitFor(position, seconds)], '-N -B')}) || exit 1`,
    '[ "$__done" = 0 ] && exit 0',
    `${dbFactProbe(flavor)}`,
    'exit 2',
  ]);
}

export function promoteScript(flavor: GtidFlavor): string {
  return switchoverScript([mysqlScript(REPLICATION_SQL[flavor].promote)]);
}

function failure(result: ScriptResult): string {
  return (result.stderr || result.stdout).trim() || `exit ${result.code}`;
}

/**
 * Makes the resource's host the writable primary, on the hosts themselves (read again now, not
 * as planned): when it replicates from another db host, that host goes read-only and is drained,
 * this one waits until it has applied every transaction the old one holds (at most
 * catchUpSeconds; else the old primary takes writes again and this fails naming the positions),
 * then stops replicating and takes writes. The replicas, the old primary among them, are pointed
 * at it by their own commands right after, in the db phase; the app hosts in the app phase.
 */
export async function switchPrimary(resource: DbReplicationResource, run: RunOnHost, onStep: (step: string) => void): Promise<void> {
  const self = resource.dbHosts.find((h) => h.name === resource.host) as DbHostRef;
  const flavor = resource.flavor;
  onStep(`read the replication state of ${self.name}`);
  const read = await run(self, readStateScript(flavor));
  const state = read.code === 0 ? parseStateOutput(read.stdout) : undefined;
  if (!state) throw new Error(`${self.name}: its server does not answer: ${failure(read)}`);
  if (state.source) {
    const from = dbHostAt(resource, state.source.host);
    if (!from)
      throw new Error(
        `${self.name} replicates from ${state.source.host}, which is no db host of the inventory: nothing was switched (infra db failover promotes a replica whose primary is gone)`,
      );
    onStep(`${from.name}: read-only, app connections cut`);
    const demoted = await run(from, demoteScript(flavor, resource.appUser));
    const position = new RegExp(`^${POSITION_MARK}\\t(.*)$`, 'm').exec(demoted.stdout)?.[1];
    if (demoted.code !== 0 || position === undefined) {
      await run(from, undoDemoteScript());
      throw new Error(`${from.name} could not be made read-only: ${failure(demoted)}; it takes writes as before, nothing was switched`);
    }
    onStep(`${self.name}: apply every transaction of ${from.name} up to ${position || '(none)'}`);
    const caughtUp = await run(self, catchUpScript(flavor, position, resource.catchUpSeconds));
    if (caughtUp.code !== 0) {
      const reached = parseStateOutput(caughtUp.stdout)?.gtidPosition;
      const undone = await run(from, undoDemoteScript());
      throw new Error(
        `${self.name} had not applied ${from.name}'s transactions up to ${position} within ${resource.catchUpSeconds} s ` +
          `(it reached ${reached || 'unknown'}${caughtUp.code === 2 ? '' : `: ${failure(caughtUp)}`}); ` +
          (undone.code === 0 ? `${from.name} takes writes again, nothing was switched` : `${from.name} stays read-only: ${failure(undone)}`),
      );
    }
  } else if (!state.readOnly) {
    return;
  }
  onStep(`${self.name}: stop replicating and take writes`);
  const promoted = await run(self, promoteScript(flavor));
  if (promoted.code !== 0) throw new Error(`${self.name} could not be promoted: ${failure(promoted)}; no db host takes writes: run infra provision again`);
}
