import { isSqlGuard } from '../core/mysql-client.js';
import type { CommandResource, Facts } from '../core/types.js';
import type { ResourceVerdict } from './verdict.js';

/** Whether a command's guard held when the host was probed. */
export function guardHeld(resource: CommandResource, facts: Facts): boolean {
  return isSqlGuard(resource.unless) ? facts.queries[resource.name] === resource.unless.expected : facts.guards[resource.name] === 0;
}

export function planCommand(resource: CommandResource, facts: Facts): ResourceVerdict {
  if (guardHeld(resource, facts)) return { action: 'noop', reason: 'already done (its guard holds)' };
  const found = isSqlGuard(resource.unless) && resource.unless.showsAs ? facts.queries[resource.name] : undefined;
  return { action: 'create', reason: found ? `${(resource.unless as { showsAs: string }).showsAs}: ${found}` : 'its guard does not hold yet' };
}
