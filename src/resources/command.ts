import type { CommandResource, Facts } from '../core/types.js';
import type { ResourceVerdict } from './verdict.js';

export function planCommand(resource: CommandResource, facts: Facts): ResourceVerdict {
  return facts.guards[resource.name] === 0
    ? { action: 'noop', reason: 'already done (its guard holds)' }
    : { action: 'create', reason: 'its guard does not hold yet' };
}
