import type { Change, Facts, FirewallRuleResource, FirewallStateResource, HostDesire, HostPlan } from '../core/types.js';
import { sshLockoutReason, surplusFirewallRules } from '../resources/firewall-rule.js';
import { planResource } from '../resources/index.js';

/**
 * A command whose guard held still runs when a path it follows changes in the same phase: the
 * guard was read before the change (systemd must re-read a unit file once it is rewritten).
 */
function followChangedPaths(changes: Change[]): void {
  const changed = new Set(
    changes
      .filter((c) => c.action !== 'noop' && (c.resource.kind === 'file' || c.resource.kind === 'symlink'))
      .map((c) => (c.resource as { path: string }).path),
  );
  for (const change of changes) {
    const resource = change.resource;
    if (change.action !== 'noop' || resource.kind !== 'command') continue;
    const trigger = resource.runsWhenChanged?.find((path) => changed.has(path));
    if (trigger) Object.assign(change, { action: 'update', reason: `${trigger} changes in this run` });
  }
}

/**
 * The plan for one host: a pure function of what is desired and what the host has. Every desired
 * resource yields a change (a noop says why nothing is needed); firewall rules the desired set does
 * not hold are deleted in the cleanup phase, after every phase that could still need them; and a
 * plan that would lock infra out of SSH is refused as a whole.
 */
export function planHost(desire: HostDesire, facts: Facts): HostPlan {
  const plan: HostPlan = { host: desire.host, changes: [], pendingHandlers: [...facts.pendingHandlers], notices: [], serving: [] };
  for (const phase of desire.phases) {
    if (phase.resources.some((r) => r.kind === 'service' && facts.services[r.name]?.active === 'active')) plan.serving.push(phase.phase);
    const changes = phase.resources.map((resource): Change => {
      const verdict = planResource(resource, facts);
      const change: Change = { phase: phase.phase, resource, action: verdict.action, reason: verdict.reason };
      if (verdict.diff) change.diff = verdict.diff;
      return change;
    });
    followChangedPaths(changes);
    plan.changes.push(...changes);
    const rules = phase.resources.filter((r): r is FirewallRuleResource => r.kind === 'firewall-rule');
    const state = phase.resources.find((r): r is FirewallStateResource => r.kind === 'firewall-state');
    if (!state) continue;
    const cleanupPhase = desire.phases.some((p) => p.phase === 'cleanup') ? 'cleanup' : phase.phase;
    for (const rule of surplusFirewallRules(rules, facts)) {
      const reason = rule.found ? 'not written by infra (keep it with firewall.extra_rules)' : 'written by infra, no longer wanted';
      plan.changes.push({ phase: cleanupPhase, resource: rule, action: 'delete', reason });
    }
    const refusal = sshLockoutReason(rules, state, facts);
    if (refusal) plan.refusal = refusal;
  }
  return plan;
}

export function countChanges(plan: HostPlan): Record<'create' | 'update' | 'delete' | 'noop', number> {
  const counts = { create: 0, update: 0, delete: 0, noop: 0 };
  for (const change of plan.changes) counts[change.action] += 1;
  return counts;
}
