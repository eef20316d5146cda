import type { Facts, ServiceResource } from '../core/types.js';
import type { ResourceVerdict } from './verdict.js';

export function planService(resource: ServiceResource, facts: Facts): ResourceVerdict {
  const fact = facts.services[resource.name];
  // A masked unit loads as "masked": installed, but refused until unmasked.
  if (fact?.load === 'masked' || fact?.enabled === 'masked') {
    return { action: 'update', reason: `masked → unmasked, ${resource.enabled ? 'enabled' : 'disabled'} and ${resource.running ? 'running' : 'stopped'}` };
  }
  if (!fact || fact.load !== 'loaded') return { action: 'create', reason: 'unit not installed yet' };
  const drift: string[] = [];
  const enabled = fact.enabled === 'enabled';
  const running = fact.active === 'active';
  if (resource.enabled !== enabled) drift.push(resource.enabled ? `${fact.enabled || 'disabled'} → enabled` : 'enabled → disabled');
  if (resource.running !== running) drift.push(resource.running ? `${fact.active} → running` : 'running → stopped');
  return drift.length === 0
    ? { action: 'noop', reason: `${resource.enabled ? 'enabled' : 'disabled'} and ${resource.running ? 'running' : 'stopped'}` }
    : { action: 'update', reason: drift.join(', ') };
}
