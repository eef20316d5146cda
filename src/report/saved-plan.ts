import { createHash } from 'node:crypto';
import type { Change, Facts, HostPlan } from '../core/types.js';
import { resourceLabel } from '../resources/index.js';
import { JSON_FORMAT_VERSION } from './json.js';

/**
 * A plan written by `infra provision INVENTORY --out FILE` and applied by `infra apply FILE`
 * (Terraform's `plan -out` / `apply FILE`). It holds what a reviewer reads (each host's changes
 * by label, reason and diff) and what apply checks before it changes anything: infra's version,
 * the inventory's digest, the state directory's listing, and a digest of each fact of each host.
 *
 * Secrets never appear in it, in any form: a file that holds one is listed by path with
 * `holds_secrets` and no content digest, a command by its name (never its script); apply renders
 * them again from the same inventory and state, which it checks did not move.
 */
export interface SavedPlan {
  format_version: number;
  kind: 'infra-plan';
  infra_version: string;
  created_at: string;
  inventory: { file: string; sha256: string };
  /** Each file of the state directory (run reports aside) as "size mtime": what secrets and certificates are rendered from. */
  state: Record<string, string>;
  /** The --limit pattern the plan was made with, if any. */
  limit?: string[];
  hosts: Record<string, SavedHostPlan>;
}

export interface SavedHostPlan {
  address: string;
  facts_sha256: string;
  /** A short digest of each fact ("file /etc/x", "service nginx", "firewall"…), to say which moved. */
  facts: Record<string, string>;
  changes: SavedChange[];
  pending_handlers: string[];
}

export interface SavedChange {
  phase: string;
  action: Change['action'];
  resource: string;
  reason: string;
  /** A file's desired content and metadata, hashed; absent for a file holding secrets. */
  content_sha256?: string;
  holds_secrets?: true;
  /** The diff of an updated file (never for one holding secrets: planning gives none). */
  diff?: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Each fact a plan depends on, by name, as a short digest. Left out: health output (only check
 * reads it) and a db host's GTID positions, which move with every write to a serving database and
 * decide nothing in a plan but whether a replica is errant, which its refusal already covers.
 */
export function factDigests(facts: Facts): Record<string, string> {
  const parts: Record<string, unknown> = {
    os: facts.os,
    'controller address': facts.controllerAddress,
    firewall: facts.firewall,
    'pending handlers': facts.pendingHandlers,
  };
  for (const [path, fact] of Object.entries(facts.files)) {
    const { content: _readOnlyToShowADiff, ...rest } = fact;
    parts[`file ${path}`] = rest;
  }
  for (const [name, version] of Object.entries(facts.packages)) parts[`package ${name}`] = version;
  for (const [name, service] of Object.entries(facts.services)) parts[`service ${name}`] = service;
  for (const [name, code] of Object.entries(facts.guards)) parts[`guard of ${name}`] = code;
  for (const [name, value] of Object.entries(facts.queries)) parts[`query of ${name}`] = value;
  for (const [path, entries] of Object.entries(facts.folders)) parts[`folder ${path}`] = entries;
  if (facts.db)
    parts['db replication'] = {
      readOnly: facts.db.readOnly,
      source: facts.db.source && { host: facts.db.source.host, io: facts.db.source.ioRunning, sql: facts.db.source.sqlRunning },
    };
  return Object.fromEntries(Object.entries(parts).map(([name, value]) => [name, sha256(JSON.stringify(value ?? null)).slice(0, 16)]));
}

function factsDigest(parts: Record<string, string>): string {
  return sha256(JSON.stringify(Object.entries(parts).sort(([a], [b]) => a.localeCompare(b))));
}

function savedChange(change: Change): SavedChange {
  const saved: SavedChange = { phase: change.phase, action: change.action, resource: resourceLabel(change.resource), reason: change.reason };
  const resource = change.resource;
  if (resource.kind === 'file') {
    if ((resource.secrets ?? []).length > 0) saved.holds_secrets = true;
    else saved.content_sha256 = sha256(JSON.stringify([resource.content, resource.mode, resource.owner, resource.group]));
  }
  if (change.action === 'update' && change.diff) saved.diff = change.diff;
  return saved;
}

export interface PlannedHost {
  plan: HostPlan;
  address: string;
  facts: Facts;
}

export function buildSavedPlan(input: {
  version: string;
  createdAt: Date;
  inventory: { file: string; text: string };
  state: Record<string, string>;
  limit?: readonly string[];
  hosts: readonly PlannedHost[];
}): SavedPlan {
  const hosts: Record<string, SavedHostPlan> = {};
  for (const { plan, address, facts } of input.hosts) {
    const parts = factDigests(facts);
    hosts[plan.host] = {
      address,
      facts_sha256: factsDigest(parts),
      facts: parts,
      changes: plan.changes.filter((change) => change.action !== 'noop').map(savedChange),
      pending_handlers: [...plan.pendingHandlers],
    };
  }
  return {
    format_version: JSON_FORMAT_VERSION,
    kind: 'infra-plan',
    infra_version: input.version,
    created_at: input.createdAt.toISOString(),
    inventory: { file: input.inventory.file, sha256: sha256(input.inventory.text) },
    state: input.state,
    ...(input.limit && input.limit.length > 0 ? { limit: [...input.limit] } : {}),
    hosts,
  };
}

/** Reads a saved plan's JSON, checking that it is one; throws an Error saying what is wrong. */
export function parseSavedPlan(text: string): SavedPlan {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const plan = doc as Partial<SavedPlan>;
  if (typeof doc !== 'object' || doc === null || plan.kind !== 'infra-plan') throw new Error('not a plan written by infra provision --out');
  if (plan.format_version !== JSON_FORMAT_VERSION) throw new Error(`format_version ${String(plan.format_version)}, this infra reads ${JSON_FORMAT_VERSION}`);
  if (typeof plan.infra_version !== 'string' || !plan.inventory || typeof plan.hosts !== 'object' || plan.hosts === null || typeof plan.state !== 'object') {
    throw new Error('incomplete: it lacks infra_version, inventory, state or hosts');
  }
  return plan as SavedPlan;
}

function listDiff(before: Record<string, string>, after: Record<string, string>): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return names.flatMap((name) => {
    if (!(name in after)) return [`${name} is gone`];
    if (!(name in before)) return [`${name} is new`];
    return before[name] === after[name] ? [] : [name];
  });
}

function shortList(items: readonly string[], max = 6): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/**
 * Why a saved plan cannot be applied as it was reviewed, one line per thing that moved (empty when
 * it can): infra's version, the inventory, the state directory, and per host its facts or,
 * should they match and the plan still differ, the changes. `now` is the same plan made again.
 */
export function savedPlanRefusals(saved: SavedPlan, now: SavedPlan): string[] {
  const refusals: string[] = [];
  if (saved.infra_version !== now.infra_version) refusals.push(`infra: planned with ${saved.infra_version}, this is ${now.infra_version}`);
  if (saved.inventory.sha256 !== now.inventory.sha256) refusals.push(`inventory ${saved.inventory.file}: changed since the plan`);
  const state = listDiff(saved.state, now.state);
  if (state.length > 0) refusals.push(`state directory: ${shortList(state)} changed since the plan`);
  for (const host of [...new Set([...Object.keys(saved.hosts), ...Object.keys(now.hosts)])]) {
    const before = saved.hosts[host];
    const after = now.hosts[host];
    if (!after) {
      refusals.push(`${host}: in the plan, not read now`);
      continue;
    }
    if (!before) {
      refusals.push(`${host}: read now, not in the plan`);
      continue;
    }
    if (before.facts_sha256 !== after.facts_sha256) {
      refusals.push(`${host}: changed since the plan: ${shortList(listDiff(before.facts, after.facts))}`);
      continue;
    }
    const key = (change: SavedChange) => JSON.stringify([change.phase, change.action, change.resource, change.content_sha256 ?? null]);
    const planned = new Set(before.changes.map(key));
    const differs = before.changes.length !== after.changes.length || after.changes.some((change) => !planned.has(key(change)));
    if (differs || before.pending_handlers.join() !== after.pending_handlers.join()) {
      const added = after.changes.filter((change) => !planned.has(key(change))).map((change) => `${change.action} ${change.resource}`);
      refusals.push(`${host}: its plan is now different${added.length > 0 ? ` (${shortList(added, 3)})` : ''}`);
    }
  }
  return refusals;
}
