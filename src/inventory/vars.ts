import { ROLE, type Role } from './model.js';

/**
 * The vars the roles read, each with its default and the check its value must pass. The roles read
 * them through src/roles/topology.ts (stringVar, integerVar) and `infra validate` checks every place
 * one is written (vars, role_vars, groups, hosts) with the same `varProblem`, so a value the roles
 * would refuse at render time is refused first, at its file:line.
 */

/** A Linux interface name as keepalived takes it (15 characters at most). */
export const INTERFACE_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

interface StringVar {
  kind: 'string';
  /** The roles whose hosts read it. */
  roles: readonly Role[];
  fallback: string;
  pattern: RegExp;
  /** What a valid value looks like, for the message. */
  expected: string;
}

interface IntegerVar {
  kind: 'integer';
  roles: readonly Role[];
  fallback: number;
  min: number;
  max: number;
  /** What the number means, for the message. */
  meaning: string;
}

export const KNOWN_VARS = {
  os_family: {
    kind: 'string',
    roles: [ROLE.db],
    fallback: 'debian',
    pattern: /^(debian|ubuntu)$/,
    expected: 'debian (MariaDB) or ubuntu (MySQL 8)',
  },
  // Pins the db server; auto: what the host runs (see dbFlavor in src/roles/db.ts).
  db_engine: {
    kind: 'string',
    roles: ['db'],
    fallback: 'auto',
    pattern: /^(auto|mariadb|mysql)$/,
    expected: 'auto (what the host runs), mariadb or mysql',
  },
  replication_max_lag_seconds: {
    kind: 'integer',
    roles: [ROLE.db],
    fallback: 30,
    min: 0,
    max: 86_400,
    meaning: 'the replica lag in seconds that infra check still accepts',
  },
  switchover_catch_up_seconds: {
    kind: 'integer',
    roles: [ROLE.db],
    fallback: 30,
    min: 1,
    max: 3600,
    meaning: 'how long a switchover waits for the new primary to catch up',
  },
  vrrp_interface: {
    kind: 'string',
    roles: [ROLE.lb],
    fallback: 'eth0',
    pattern: INTERFACE_NAME,
    expected: 'an interface name such as eth0 or ens18 (letters, digits, _ . : -, at most 15 characters)',
  },
  vrrp_router_id: {
    kind: 'integer',
    roles: [ROLE.lb],
    fallback: 51,
    min: 1,
    max: 255,
    meaning: 'the VRRP group id, the same on every lb host',
  },
} as const satisfies Record<string, StringVar | IntegerVar>;

export type KnownVarName = keyof typeof KNOWN_VARS;
export type StringVarName = { [N in KnownVarName]: (typeof KNOWN_VARS)[N]['kind'] extends 'string' ? N : never }[KnownVarName];
export type IntegerVarName = { [N in KnownVarName]: (typeof KNOWN_VARS)[N]['kind'] extends 'integer' ? N : never }[KnownVarName];

export function isKnownVar(name: string): name is KnownVarName {
  return Object.hasOwn(KNOWN_VARS, name);
}

/** Why `value` is not acceptable for the var `name` (a sentence naming the var and the fix), or undefined. */
export function varProblem(name: KnownVarName, value: unknown): string | undefined {
  const known: StringVar | IntegerVar = KNOWN_VARS[name];
  const readBy = `read by ${known.roles.join(' and ')} hosts`;
  if (known.kind === 'string') {
    if (typeof value === 'string' && known.pattern.test(value)) return undefined;
    return `var ${name} must be ${known.expected} (${readBy}); got ${describe(value)}`;
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= known.min && value <= known.max) return undefined;
  return `var ${name} must be an integer from ${known.min} to ${known.max}, ${known.meaning} (${readBy}); got ${describe(value)}`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}
