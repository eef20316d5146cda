import { normalizeSource, sourceAllows } from '../core/ipv4.js';
import type { Facts, FirewallRuleResource, FirewallStateResource, UfwRule } from '../core/types.js';
import type { ResourceVerdict } from './verdict.js';

export const INFRA_RULE_COMMENT_PREFIX = 'infra:';

function sameRule(rule: UfwRule, resource: FirewallRuleResource): boolean {
  return (
    rule.action === 'allow' &&
    rule.to === 'any' &&
    rule.fromPort === 'any' &&
    rule.iface === '' &&
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

function writtenByInfra(rule: UfwRule): boolean {
  return rule.comment.startsWith(INFRA_RULE_COMMENT_PREFIX) && rule.action === 'allow' && /^\d+$/.test(rule.port) && rule.to === 'any' && rule.fromPort === 'any' && rule.iface === '';
}

/**
 * Rules on the host that the desired set does not hold, all to delete: infra owns the firewall,
 * and a rule someone added by hand is kept only when the inventory lists it
 * (`firewall.extra_rules`, which makes it a desired rule). Those infra wrote keep their purpose.
 */
export function surplusFirewallRules(desired: readonly FirewallRuleResource[], facts: Facts): FirewallRuleResource[] {
  return facts.firewall.rules
    .filter((rule) => !desired.some((resource) => sameRule(rule, resource)))
    .map((rule) => (writtenByInfra(rule) ? ruleFromUfw(rule) : { ...ruleFromUfw(rule), purpose: 'not written by infra', found: rule }));
}

/**
 * ufw's words that delete a rule as the host holds it (its full syntax matches a rule however it
 * was added, the short `ufw allow 6666/tcp` included).
 */
export function ufwDeleteWords(rule: UfwRule): string[] {
  const words = ['delete', rule.action];
  if (rule.iface) words.push('in', 'on', rule.iface);
  if (rule.proto !== 'any') words.push('proto', rule.proto);
  words.push('from', rule.from);
  if (rule.fromPort !== 'any') words.push('port', rule.fromPort);
  words.push('to', rule.to);
  if (rule.port !== 'any') words.push('port', rule.port);
  return words;
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
