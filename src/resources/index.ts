import type { Action, Facts, Resource } from '../core/types.js';
import { absentKind } from './absent.js';
import { commandKind } from './command.js';
import { dbReplicationKind } from './db-replication.js';
import { directoryKind } from './directory.js';
import { fileKind } from './file.js';
import { firewallRuleKind } from './firewall-rule.js';
import { firewallStateKind } from './firewall-state.js';
import type { ApplyFragment, ProbeFragment, ResourceKind, ResourceKindName } from './kind.js';
import { ownedFolderKind } from './owned-folder.js';
import { packageKind } from './package.js';
import { serviceKind } from './service.js';
import { symlinkKind } from './symlink.js';
import type { ResourceVerdict } from './verdict.js';

/** Every resource kind by name: a kind added to `Resource` is refused by the compiler until it is listed here. */
export const RESOURCE_KINDS: { readonly [K in ResourceKindName]: ResourceKind<K> } = {
  package: packageKind,
  directory: directoryKind,
  file: fileKind,
  symlink: symlinkKind,
  absent: absentKind,
  service: serviceKind,
  'firewall-rule': firewallRuleKind,
  'firewall-state': firewallStateKind,
  'owned-folder': ownedFolderKind,
  command: commandKind,
  'db-replication': dbReplicationKind,
};

/** The kind of a resource, typed for any resource (each kind only ever sees its own). */
export function kindOf(resource: Resource): ResourceKind<ResourceKindName> {
  return RESOURCE_KINDS[resource.kind] as ResourceKind<ResourceKindName>;
}

/** How plans, reports and checks name a resource. */
export function resourceLabel(resource: Resource): string {
  return kindOf(resource).label(resource);
}

export function planResource(resource: Resource, facts: Facts): ResourceVerdict {
  return kindOf(resource).plan(resource, facts);
}

/** The facts once `action` on `resource` was carried out (for the planner's idempotence check). */
export function convergeResource(resource: Resource, action: Exclude<Action, 'noop'>, facts: Facts): void {
  kindOf(resource).converge(resource, action, facts);
}

/** A fragment with the kinds that share it, so each runs once with the resources or changes of all of them. */
export interface SharedFragment<F> {
  fragment: F;
  kinds: ReadonlySet<ResourceKindName>;
}

function shared<F extends { order: number }>(pick: (kind: ResourceKind<ResourceKindName>) => F | undefined): SharedFragment<F>[] {
  const byFragment = new Map<F, Set<ResourceKindName>>();
  for (const kind of Object.values(RESOURCE_KINDS) as ResourceKind<ResourceKindName>[]) {
    const fragment = pick(kind);
    if (!fragment) continue;
    byFragment.set(fragment, (byFragment.get(fragment) ?? new Set()).add(kind.kind));
  }
  return [...byFragment].map(([fragment, kinds]) => ({ fragment, kinds })).sort((a, b) => a.fragment.order - b.fragment.order);
}

/** The probe's reads, each once, in the order of the probe script. */
export const PROBE_FRAGMENTS: readonly SharedFragment<ProbeFragment>[] = shared((kind) => kind.probe as ProbeFragment | undefined);

/** The change script's steps by kind, each once, in the order of the script. */
export const APPLY_FRAGMENTS: readonly SharedFragment<ApplyFragment>[] = shared((kind) => kind.apply as ApplyFragment | undefined);
