/**
 * The transactions a database server holds, as its GTIDs say, and the difference between two
 * servers: what one holds that the other lacks. Pure, so the choices built on it (which replica
 * is the most advanced, which transactions are errant) are tested with data.
 *
 * MariaDB numbers transactions per replication domain; `gtid_binlog_state` keeps the last sequence
 * number of every (domain, server_id) pair that wrote to the binlog. In gtid_strict_mode a pair's
 * sequence numbers only grow, so a server lacks a pair's transactions after its own last one.
 * MySQL's `gtid_executed` is the full set: `uuid:1-5:7,uuid2:1-3`.
 */
export type GtidFlavor = 'mariadb' | 'mysql';

/** By (domain-server for MariaDB, uuid for MySQL): inclusive ranges of sequence numbers held. */
export type GtidState = Map<string, [number, number][]>;

export function parseGtidState(flavor: GtidFlavor, text: string): GtidState {
  const state: GtidState = new Map();
  for (const item of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    if (flavor === 'mariadb') {
      const match = /^(\d+)-(\d+)-(\d+)$/.exec(item);
      if (!match) throw new Error(`not a MariaDB GTID: "${item}"`);
      // The state holds the last of a pair; in strict mode every earlier one was applied before it.
      state.set(`${match[1]}-${match[2]}`, [[1, Number(match[3])]]);
    } else {
      const [uuid, ...ranges] = item.split(':');
      if (!uuid || ranges.length === 0 || !/^[0-9a-f-]{36}$/i.test(uuid)) throw new Error(`not a MySQL GTID set: "${item}"`);
      const held = ranges.map((range): [number, number] => {
        const match = /^(\d+)(?:-(\d+))?$/.exec(range);
        if (!match) throw new Error(`not a MySQL GTID range: "${range}" in "${item}"`);
        return [Number(match[1]), Number(match[2] ?? match[1])];
      });
      state.set(uuid.toLowerCase(), [...(state.get(uuid.toLowerCase()) ?? []), ...held]);
    }
  }
  return state;
}

/** The ranges of `ranges` not covered by `covered` (both sorted or not, inclusive). */
function subtractRanges(ranges: readonly [number, number][], covered: readonly [number, number][]): [number, number][] {
  let left = [...ranges];
  for (const [from, to] of covered) {
    left = left.flatMap(([a, b]): [number, number][] => {
      if (to < a || from > b) return [[a, b]];
      const pieces: [number, number][] = [];
      if (a < from) pieces.push([a, from - 1]);
      if (b > to) pieces.push([to + 1, b]);
      return pieces;
    });
  }
  return left;
}

/** The transactions `holder` has and `other` lacks. */
export function gtidsMissing(holder: GtidState, other: GtidState): GtidState {
  const missing: GtidState = new Map();
  for (const [key, ranges] of holder) {
    const left = subtractRanges(ranges, other.get(key) ?? []);
    if (left.length > 0) missing.set(key, left);
  }
  return missing;
}

/** Whether `a` holds every transaction `b` holds. */
export function gtidsContain(a: GtidState, b: GtidState): boolean {
  return gtidsMissing(b, a).size === 0;
}

/** GTIDs as people read them: `0-2-101..0-2-103` for MariaDB, `uuid:101-103` for MySQL. */
export function formatGtids(flavor: GtidFlavor, state: GtidState): string {
  return [...state]
    .map(([key, ranges]) =>
      flavor === 'mariadb'
        ? ranges.map(([from, to]) => (from === to ? `${key}-${from}` : `${key}-${from}..${key}-${to}`)).join(', ')
        : `${key}:${ranges.map(([from, to]) => (from === to ? `${from}` : `${from}-${to}`)).join(':')}`,
    )
    .join(', ');
}

/**
 * The one server of `candidates` that holds every transaction any of them holds, or undefined
 * when none does (two servers each hold some the other lacks: the operator must choose).
 */
export function mostAdvanced<T extends { state: GtidState }>(candidates: readonly T[]): T | undefined {
  return candidates.find((candidate) => candidates.every((other) => gtidsContain(candidate.state, other.state)));
}
