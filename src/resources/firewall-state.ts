import type { Facts, FirewallStateResource } from '../core/types.js';
import { UFW_APPLY, UFW_PROBE } from './firewall-rule.js';
import type { ResourceKind } from './kind.js';
import type { ResourceVerdict } from './verdict.js';

export function planFirewallState(_resource: FirewallStateResource, facts: Facts): ResourceVerdict {
  const drift: string[] = [];
  if (!facts.firewall.enabled) drift.push('ufw not active');
  if (facts.firewall.defaultIncoming !== 'DROP' && facts.firewall.defaultIncoming !== 'REJECT') {
    drift.push(`default incoming policy ${facts.firewall.defaultIncoming || 'unknown'} → deny`);
  }
  return drift.length === 0 ? { action: 'noop', reason: 'active, incoming denied by default' } : { action: 'update', reason: drift.join(', ') };
}

export const firewallStateKind: ResourceKind<'firewall-state'> = {
  kind: 'firewall-state',
  label: () => 'ufw enabled, incoming denied',
  plan: planFirewallState,
  probe: UFW_PROBE,
  apply: UFW_APPLY,
  converge(_resource, _action, facts) {
    Object.assign(facts.firewall, { installed: true, enabled: true, defaultIncoming: 'DROP' });
  },
};
