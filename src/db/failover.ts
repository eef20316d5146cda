import { readFile, rename, writeFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { UserError } from '../core/errors.js';
import type { DbHostRef, DbReplicationFact } from '../core/types.js';
import { Fleet } from '../engine/fleet.js';
import { ROLE, type Inventory } from '../inventory/model.js';
import { dbFlavor } from '../roles/db.js';
import type { DbPlatform } from '../roles/db-engines.js';
import { hostNamed, hostsWithRole } from '../roles/topology.js';
import { formatGtids, gtidsMissing, mostAdvanced, parseGtidState, type GtidFlavor, type GtidState } from './gtid.js';
import { catchUpScript, parseStateOutput, promoteScript, readStateScript } from './replication.js';

/**
 * `infra db failover`: the primary is gone, a replica takes its place. Never run by infra itself:
 * only the operator knows that the primary is really gone and not behind a network blip, and two
 * writable primaries would diverge for good.
 */

/** How long each replica may take to apply what it had received before it is compared. */
const APPLY_RECEIVED_SECONDS = 10;

export interface DbHostState {
  host: DbHostRef;
  /** Undefined when the host or its server could not be read, with `error` saying why. */
  db?: DbReplicationFact;
  error?: string;
}

export interface FailoverDecision {
  flavor: GtidFlavor;
  oldPrimary: string;
  newPrimary: string;
  /** The inventory's replicas after the failover: the others, then the old primary. */
  replicas: string[];
  /** What may have been lost, in words. */
  lost: string;
}

function stateOf(flavor: GtidFlavor, reading: DbHostState): GtidState {
  return parseGtidState(flavor, reading.db?.gtidState ?? '');
}

/**
 * Chooses the replica to promote, from what each db host was read to be: the one named by `to`
 * after checking that no reachable replica holds transactions it lacks, else the one that holds
 * every transaction any reachable replica holds. Refuses (UserError) when the old primary still
 * takes writes (that is a switchover), when no replica can be read, or when the choice would lose
 * what another replica has. Pure.
 */
export function decideFailover(
  flavor: GtidFlavor,
  primary: string,
  replicas: readonly string[],
  readings: readonly DbHostState[],
  to?: string,
): FailoverDecision {
  const old = readings.find((reading) => reading.host.name === primary);
  if (old?.db && !old.db.readOnly && !old.db.source) {
    throw new UserError(
      `the primary ${primary} answers and takes writes: nothing was changed. To move the primary while it runs, change db.primary ` +
        'and db.replicas in the inventory and run infra provision (a switchover waits for every write, a failover cannot)',
    );
  }
  if (to !== undefined && !replicas.includes(to)) throw new UserError(`--to ${to}: not one of db.replicas (${replicas.join(', ')}); nothing was changed`);
  const candidates = readings
    .filter((reading) => reading.db && replicas.includes(reading.host.name))
    .map((reading) => ({ reading, state: stateOf(flavor, reading) }));
  if (candidates.length === 0) {
    const why = readings.filter((r) => replicas.includes(r.host.name)).map((r) => `${r.host.name}: ${r.error ?? 'not read'}`);
    throw new UserError(`no replica could be read, none can be promoted; nothing was changed:\n  ${why.join('\n  ')}`);
  }
  let chosen;
  if (to !== undefined) {
    chosen = candidates.find((candidate) => candidate.reading.host.name === to);
    if (!chosen)
      throw new UserError(`--to ${to}: it could not be read (${readings.find((r) => r.host.name === to)?.error ?? 'not read'}); nothing was changed`);
    for (const other of candidates) {
      const missing = gtidsMissing(other.state, chosen.state);
      if (missing.size > 0) {
        throw new UserError(
          `--to ${to}: ${other.reading.host.name} holds transactions ${to} lacks (${formatGtids(flavor, missing)}): promoting ${to} would lose them; promote ${other.reading.host.name}, or let it catch up; nothing was changed`,
        );
      }
    }
  } else {
    chosen = mostAdvanced(candidates);
    if (!chosen) {
      const list = candidates.map((c) => `${c.reading.host.name} ${formatGtids(flavor, c.state) || '(none)'}`).join('; ');
      throw new UserError(`no replica holds every transaction the others hold (${list}): choose one with --to; nothing was changed`);
    }
  }
  const newPrimary = chosen.reading.host.name;
  let lost: string;
  if (old?.db) {
    const missing = gtidsMissing(stateOf(flavor, old), chosen.state);
    lost =
      missing.size > 0
        ? `${primary} holds transactions ${newPrimary} never received, lost to the site: ${formatGtids(flavor, missing)}`
        : `nothing: ${newPrimary} holds every transaction of ${primary}`;
  } else {
    const position = chosen.reading.db?.gtidPosition || '(none)';
    lost =
      `unknown: ${primary} could not be read (${old?.error ?? 'not read'}). Whatever it committed after ${position} reached no replica and is ` +
      `not on ${newPrimary}; when ${primary} comes back, infra provision names those transactions (errant GTIDs) and refuses to make it a replica until they are dealt with`;
  }
  return { flavor, oldPrimary: primary, newPrimary, replicas: [...replicas.filter((name) => name !== newPrimary), primary], lost };
}

/** Reads every db host: each replica first applies what it had received (bounded), then its state. */
export async function readDbHosts(inventory: Inventory, fleet: Fleet, flavor: GtidFlavor): Promise<DbHostState[]> {
  return Promise.all(
    hostsWithRole(inventory, ROLE.db).map(async (host): Promise<DbHostState> => {
      const ref = { name: host.name, address: host.address };
      const connection = fleet.connections.get(host.name);
      if (!connection) return { host: ref, error: fleet.failures.get(host.name)?.message ?? 'not connected' };
      const first = parseStateOutput((await connection.run(readStateScript(flavor))).stdout);
      if (!first) return { host: ref, error: 'its database server does not answer' };
      if (!first.source?.received) return { host: ref, db: first };
      await connection.run(catchUpScript(flavor, first.source.received, APPLY_RECEIVED_SECONDS));
      return { host: ref, db: parseStateOutput((await connection.run(readStateScript(flavor))).stdout) ?? first };
    }),
  );
}

/** Stops replicating on the chosen replica and makes it take writes. */
export async function promote(fleet: Fleet, host: string, flavor: GtidFlavor): Promise<void> {
  const result = await (await fleet.connectionTo(host)).run(promoteScript(flavor));
  if (result.code !== 0) throw new UserError(`${host} could not be promoted: ${(result.stderr || result.stdout).trim()}; the inventory was not changed`);
}

/**
 * The inventory text with db.primary and db.replicas set, everything else (comments, order,
 * quoting, a flow or block list) as it was.
 */
export function rewriteDbTopology(text: string, primary: string, replicas: readonly string[]): string {
  const doc = parseDocument(text);
  const db = doc.get('db', true);
  if (!isMap(db)) throw new UserError('the inventory has no db mapping to rewrite');
  const oldReplicas = db.get('replicas', true);
  const list = doc.createNode([...replicas]);
  if (isSeq(oldReplicas)) {
    list.flow = oldReplicas.flow;
    list.comment = oldReplicas.comment;
    list.commentBefore = oldReplicas.commentBefore;
  }
  const oldPrimary = db.get('primary', true);
  // The scalar itself keeps its comment and quoting; only its value changes.
  if (isScalar(oldPrimary)) oldPrimary.value = primary;
  else doc.setIn(['db', 'primary'], primary);
  doc.setIn(['db', 'replicas'], list);
  // Flow lists as people write them: [db2, db1], not [ db2, db1 ].
  return doc.toString({ flowCollectionPadding: false });
}

/** Rewrites the inventory file in place (a temp file renamed over it: never half written). */
export async function rewriteInventoryFile(file: string, primary: string, replicas: readonly string[]): Promise<void> {
  const text = rewriteDbTopology(await readFile(file, 'utf8'), primary, replicas);
  const staged = `${file}.infra-new`;
  await writeFile(staged, text);
  await rename(staged, file);
}

/**
 * The flavor of the inventory's db hosts (they run the same server): the first one whose platform
 * was read (the primary may be the host that is gone), else the primary's by the inventory.
 */
export function inventoryDbFlavor(inventory: Inventory, dbPlatforms: ReadonlyMap<string, DbPlatform> = new Map()): GtidFlavor {
  const read = hostsWithRole(inventory, 'db').find((host) => dbPlatforms.has(host.name));
  if (read) return dbFlavor(read, dbPlatforms.get(read.name)).kind;
  return dbFlavor(hostNamed(inventory, inventory.db.primary)).kind;
}
