import { mysqlScript } from '../core/mysql-client.js';
import { quoteWord } from '../core/shell.js';
import type { CommandResource, Facts, SqlGuard } from '../core/types.js';
import type { ResourceKind } from './kind.js';
import { isSqlGuard, serverReads } from './server-reads.js';
import type { ResourceVerdict } from './verdict.js';

/** The guard as shell text exiting 0 when it holds (run right before its command). */
export function guardShell(guard: string | SqlGuard): string {
  return isSqlGuard(guard) ? `${mysqlScript([guard.sql], '-N -B')} | grep -qxF ${quoteWord(guard.expected)}` : guard;
}

/** Whether a command's guard held when the host was probed. */
export function guardHeld(resource: CommandResource, facts: Facts): boolean {
  return isSqlGuard(resource.unless) ? facts.queries[resource.name] === resource.unless.expected : facts.guards[resource.name] === 0;
}

export function planCommand(resource: CommandResource, facts: Facts): ResourceVerdict {
  if (guardHeld(resource, facts)) return { action: 'noop', reason: 'already done (its guard holds)' };
  const found = isSqlGuard(resource.unless) && resource.unless.showsAs ? facts.queries[resource.name] : undefined;
  return { action: 'create', reason: found ? `${(resource.unless as { showsAs: string }).showsAs}: ${found}` : 'its guard does not hold yet' };
}

function commandSteps(command: CommandResource, planned: 'create' | 'update' | 'delete'): string[] {
  // A command the plan updates runs whatever its guard says: a path it follows changed
  // (CommandResource.runsWhenChanged), which the guard may not see.
  const guard = planned === 'update' ? 'false' : guardShell(command.unless);
  // The script runs inline (not through `bash -c`) so a secret in it never reaches a process's argv.
  return [
    `step ${quoteWord(`command ${command.name}`)}`,
    `if ! ( ${guard} ) >/dev/null 2>&1; then`,
    `  if ! __out=$( { ${command.script}\n} 2>&1 ); then printf "@@fail %s\\n%s\\n" "$__step" "$__out"; exit 1; fi`,
    'fi',
  ];
}

export const commandKind: ResourceKind<'command'> = {
  kind: 'command',
  label: (resource) => `command ${resource.name}`,
  plan: planCommand,
  probe: serverReads,
  apply: {
    order: 70,
    steps: (changes) => changes.flatMap((change) => (change.action === 'noop' ? [] : commandSteps(change.resource, change.action))),
  },
  converge(resource, _action, facts) {
    if (isSqlGuard(resource.unless)) facts.queries[resource.name] = resource.unless.expected;
    else facts.guards[resource.name] = 0;
  },
};
