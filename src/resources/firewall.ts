import { normalizeSource, sourceAllows } from '../core/ipv4.js';
import type { Facts, FirewallRuleResource, FirewallStateResource, UfwRule } from '../core/types.js';
import type { ResourceVerdict } from './verdict.js';

export const INFRA_RULE_COMMENT_PREFIX = 'infra:';

function sameRule(rule: UfwRule, resource: FirewallRuleResource): boolean {
  return (
    rule.action === 'allow' &&
    rule.proto === resource.proto &&
    rule.port === String(resource.port) &&
    normalizeSource(rule.from) === normalizeSource(resource.from)
  );
}

export function planFirewallRule(resource: FirewallRuleResource, facts: Facts): ResourceVerdict {
  return facts.firewall.rules.some((rule) => sameRule(rule, resource))
    ? { action: 'noop', reason: 'rule present' }
    : { action: 'create', reason: 'rule missing' };
}

export function planFirewallState(_resource: FirewallStateResource, facts: Facts): ResourceVerdict {
  const drift: string[] = [];
  if (!facts.firewall.enabled) drift.push('ufw not active');
  if (facts.firewall.defaultIncoming !== 'DROP' && facts.firewall.defaultIncoming !== 'REJECT') {
    drift.push(`default incoming policy ${facts.firewall.defaultIncoming || 'unknown'} → deny`);
  }
  return drift.length === 0 ? { action: 'noop', reason: 'active, incoming denied by default' } : { action: 'update', reason: drift.join(', ') };
}

export function ruleFromUfw(rule: UfwRule): FirewallRuleResource {
  return {
    kind: 'firewall-rule',
    proto: rule.proto === 'udp' ? 'udp' : 'tcp',
    port: Number(rule.port),
    from: normalizeSource(rule.from),
    purpose: rule.comment.slice(INFRA_RULE_COMMENT_PREFIX.length),
  };
}

/**
 * Rules on the host that the desired set does not hold: those infra wrote (its comment prefix)
 * are to delete; the others were written by someone else and are only reported.
 */
export function surplusFirewallRules(
  desired: readonly FirewallRuleResource[],
  facts: Facts,
): { obsolete: FirewallRuleResource[]; foreign: UfwRule[] } {
  const obsolete: FirewallRuleResource[] = [];
  const foreign: UfwRule[] = [];
  for (const rule of facts.firewall.rules) {
    if (desired.some((resource) => sameRule(rule, resource))) continue;
    if (rule.comment.startsWith(INFRA_RULE_COMMENT_PREFIX) && rule.action === 'allow' && /^\d+$/.test(rule.port)) {
      obsolete.push(ruleFromUfw(rule));
    } else {
      foreign.push(rule);
    }
  }
  return { obsolete, foreign };
}

/**
 * infra never cuts its own access: with ufw on, some desired rule must keep the SSH port open to
 * the address this controller connects from. Returns why the plan is refused, or undefined.
 */
export function sshLockoutReason(
  desired: readonly FirewallRuleResource[],
  state: FirewallStateResource,
  facts: Facts,
): string | undefined {
  const kept = desired.some(
    (rule) => rule.proto === 'tcp' && rule.port === state.sshPort && sourceAllows(rule.from, facts.controllerAddress),
  );
  if (kept) return undefined;
  return (
    `refusing to apply: with ufw enabled, no rule would allow SSH (port ${state.sshPort}/tcp) from this controller ` +
    `(${facts.controllerAddress}), so infra would cut its own access. Add ${facts.controllerAddress} or its network to ` +
    `firewall.admin_sources in the inventory.`
  );
}
