import type {
  Change,
  Facts,
  FirewallRuleResource,
  FirewallStateResource,
  HostDesire,
  HostPlan,
  Resource,
} from '../core/types.js';
import { planCommand } from '../resources/command.js';
import { planAbsent, planDirectory, planFile, planSymlink } from '../resources/file.js';
import { planFirewallRule, planFirewallState, sshLockoutReason, surplusFirewallRules } from '../resources/firewall.js';
import { planPackage } from '../resources/package.js';
import { planService } from '../resources/service.js';
import type { ResourceVerdict } from '../resources/verdict.js';

function planResource(resource: Resource, facts: Facts): ResourceVerdict {
  switch (resource.kind) {
    case 'package':
      return planPackage(resource, facts);
    case 'directory':
      return planDirectory(resource, facts);
    case 'file':
      return planFile(resource, facts);
    case 'symlink':
      return planSymlink(resource, facts);
    case 'absent':
      return planAbsent(resource, facts);
    case 'service':
      return planService(resource, facts);
    case 'firewall-rule':
      return planFirewallRule(resource, facts);
    case 'firewall-state':
      return planFirewallState(resource, facts);
    case 'command':
      return planCommand(resource, facts);
  }
}

/**
 * The plan for one host: a pure function of what is desired and what the host has. Every desired
 * resource yields a change (a noop says why nothing is needed); firewall rules infra wrote and no
 * longer wants are deleted, rules it did not write are reported; and a plan that would lock infra
 * out of SSH is refused as a whole.
 */
export function planHost(desire: HostDesire, facts: Facts): HostPlan {
  const plan: HostPlan = { host: desire.host, changes: [], pendingHandlers: [...facts.pendingHandlers], notices: [], serving: [] };
  for (const phase of desire.phases) {
    if (phase.resources.some((r) => r.kind === 'service' && facts.services[r.name]?.active === 'active')) plan.serving.push(phase.phase);
    for (const resource of phase.resources) {
      const verdict = planResource(resource, facts);
      const change: Change = { phase: phase.phase, resource, action: verdict.action, reason: verdict.reason };
      if (verdict.diff) change.diff = verdict.diff;
      plan.changes.push(change);
    }
    const rules = phase.resources.filter((r): r is FirewallRuleResource => r.kind === 'firewall-rule');
    const state = phase.resources.find((r): r is FirewallStateResource => r.kind === 'firewall-state');
    if (!state) continue;
    const { obsolete, foreign } = surplusFirewallRules(rules, facts);
    for (const rule of obsolete) {
      plan.changes.push({ phase: phase.phase, resource: rule, action: 'delete', reason: 'written by infra, no longer wanted' });
    }
    for (const rule of foreign) {
      plan.notices.push(`ufw rule not written by infra: ${rule.action} ${rule.port}/${rule.proto} from ${rule.from}`);
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
