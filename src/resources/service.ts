import { quoteWord } from '../core/shell.js';
import type { Facts, ServiceFact, ServiceResource } from '../core/types.js';
import type { ResourceKind } from './kind.js';
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

function serviceSteps(service: ServiceResource): string[] {
  const name = quoteWord(service.name);
  return [
    `step ${quoteWord(`service ${service.name}`)}`,
    // A masked unit refuses every start: unmasking one that is not masked changes nothing.
    `must systemctl unmask ${name}`,
    service.enabled ? `must systemctl enable ${name}` : `must systemctl disable ${name}`,
    // A unit its package started before its configuration was written may have crash-looped into
    // systemd's start limit, which refuses a plain start.
    ...(service.running ? [`systemctl reset-failed ${name} 2>/dev/null`, `must systemctl start ${name}`] : [`must systemctl stop ${name}`]),
  ];
}

export const serviceKind: ResourceKind<'service'> = {
  kind: 'service',
  label: (resource) => `service ${resource.name}`,
  plan: planService,
  probe: {
    order: 30,
    tags: ['S'],
    // The units of the phases' handlers are read too: the run confirms a reload against them.
    script(resources, desire) {
      const handlerServices = desire.phases.flatMap((phase) => phase.handlers.map((handler) => handler.service));
      const units = [...new Set([...resources.map((r) => r.name), ...handlerServices])];
      if (units.length === 0) return [];
      return [
        `while IFS= read -r __l; do printf "S\\t%s\\n" "$__l"; done < <(systemctl show -p Id,LoadState,ActiveState,UnitFileState ${units.map((unit) => quoteWord(`${unit}.service`)).join(' ')} 2>/dev/null)`,
      ];
    },
    // systemctl show prints one Key=value per line, a unit's block starting with its Id.
    parse(lines, facts) {
      let service: Partial<ServiceFact> & { id?: string } = {};
      const flushService = (): void => {
        if (service.id) {
          const name = service.id.replace(/\.service$/, '');
          facts.services[name] = { load: service.load ?? '', active: service.active ?? '', enabled: service.enabled ?? '' };
        }
        service = {};
      };
      for (const [, property = ''] of lines) {
        const [key, value = ''] = property.split(/=(.*)/s);
        if (key === 'Id') {
          flushService();
          service.id = value;
        } else if (key === 'LoadState') service.load = value;
        else if (key === 'ActiveState') service.active = value;
        else if (key === 'UnitFileState') service.enabled = value;
      }
      flushService();
    },
  },
  apply: {
    order: 90,
    steps: (changes) => changes.filter((change) => change.action !== 'noop').flatMap((change) => serviceSteps(change.resource)),
  },
  converge(resource, _action, facts) {
    facts.services[resource.name] = { load: 'loaded', active: resource.running ? 'active' : 'inactive', enabled: resource.enabled ? 'enabled' : 'disabled' };
  },
};
