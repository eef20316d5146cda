import type { HealthCheck, PhaseDesire } from '../core/types.js';
import type { Host, Inventory, Role } from '../inventory/model.js';
import type { DbPlatform } from './db-engines.js';
import type { RoleRegistry } from './registry.js';
import type { RoleSecrets } from './secrets.js';

/**
 * Who a firewall opening lets in: anyone (`clients`, ufw's "any"), the firewall's admin sources,
 * the monitor hosts with the inventory's monitoring sources, every host of a role, or the other
 * hosts of the same role (`peers`).
 */
export type OpeningSource = 'clients' | 'admin' | 'monitoring' | 'peers' | { role: Role };

/** A TCP port a role's hosts open, and to whom; the firewall role turns it into ufw rules. */
export interface FirewallOpening {
  /** A fixed port, or one the inventory sets (app.port). */
  port: number | ((inventory: Inventory) => number);
  /** Sources in order: the rules follow it. */
  from: readonly OpeningSource[];
  /** Stored in the rule's comment, e.g. "https (lb)"; "(monitoring)" and "(admin)" mark the graph's flows. */
  purpose: string;
  /** An exporter's opening: the Prometheus job that scrapes it on every host of the role. */
  job?: string;
}

/** A part of RoleSecrets that the engine resolves for the hosts of a role. */
export type SecretPart = keyof RoleSecrets;

/** Where a role's hosts sit in the lab's /24 (see src/lab/plan.ts) and how many it runs. */
export interface LabNeeds {
  /** The lab's hosts are named this and a number (the role's name when none): `vb-<lab>-<name>` must fit 15 characters. */
  hostPrefix?: string;
  /** Last octet of the first host; the first ten hosts of the role take the ten from there. */
  firstOctet: number;
  /** Last octet of the eleventh host, for labs larger than ten of the role; none: at most ten. */
  overflowFirstOctet?: number;
  defaultCount: number;
  /** What `infra lab up --<role>` with no number asks for; none: the option needs its number. */
  countAlone?: number;
  maxCount: number;
  /** The help of `infra lab up --<role>`. */
  countHelp: string;
  /** Why a count the address plan could hold still makes no lab, e.g. one lb host has no VIP peer. */
  countProblem?: (count: number) => string | undefined;
}

/** A tier of `infra graph`: hosts that do the same thing in the path of a request. */
export interface HostTier {
  id: string;
  title: string;
  note: string;
  hosts: Host[];
}

/**
 * Everything infra knows about a role, in the role's own file: the firewall, the packages, the
 * secrets, the lab and the graph read it from the registry (src/roles/registry.ts) instead of
 * naming the role.
 */
export interface RoleDefinition {
  name: Role;
  /**
   * Its place in the path of a request, counted from the clients (lb 1 … db 4). Phases run back to
   * front (db first), so nothing is sent to a host before it can serve; the lab lists hosts front
   * to back.
   */
  tier: number;
  /** The Debian/Ubuntu packages the role's hosts need; the lab's apt repository holds them all. */
  packages: readonly string[];
  /** Its ports, each open only to whom talks to it. */
  openings: readonly FirewallOpening[];
  /** What the engine resolves before rendering (src/engine/secrets.ts). */
  secrets: readonly SecretPart[];
  /**
   * The role's phase on one of its hosts: pure, from the inventory, the resolved secrets, on a db
   * host what it said of its server (src/engine/db-platform.ts), and the registry (the monitor role
   * scrapes what the other roles' openings name).
   */
  render: (inventory: Inventory, host: Host, secrets: RoleSecrets, dbPlatform: DbPlatform | undefined, registry: RoleRegistry) => PhaseDesire;
  /** What `infra check` looks at on one of its hosts beyond its configuration. */
  healthChecks: (inventory: Inventory, host: Host, dbPlatform?: DbPlatform) => HealthCheck[];
  /** Its tiers in `infra graph`, in the path of a request. */
  graphTiers: (inventory: Inventory) => HostTier[];
  lab: LabNeeds;
}
