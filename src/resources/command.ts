import { mysqlScript, sqlString } from '../core/mysql-client.js';
import { quoteWord } from '../core/shell.js';
import type { CommandResource, Facts, SqlGuard } from '../core/types.js';
import type { ResourceKind } from './kind.js';
import type { ResourceVerdict } from './verdict.js';

export function isSqlGuard(guard: string | SqlGuard): guard is SqlGuard {
  return typeof guard !== 'string';
}

/** The guard as shell text exiting 0 when it holds (run right before its command). */
export function guardShell(guard: string | SqlGuard): string {
  return isSqlGuard(guard) ? `${mysqlScript([guard.sql], '-N -B')} | grep -qxF ${quoteWord(guard.expected)}` : guard;
}

/** The tag of a probe line carrying an SQL guard's value: `Q<TAB>name<TAB>value`. */
export const SQL_GUARD_TAG = 'Q';

/**
 * One mysql run that prints `Q<TAB>name<TAB>value` for every guard. `--force` carries on past a
 * query that fails (e.g. a table that does not exist yet): its line is missing and the guard is
 * read as not holding, as it is when mysql itself is missing or down.
 */
export function sqlGuardBatch(guards: readonly { name: string; sql: string }[]): string {
  const statements = guards.map(({ name, sql }) => `SELECT '${SQL_GUARD_TAG}', ${sqlString(name)}, (${sql});`);
  return `mysql -N -B --force <<< ${quoteWord(statements.join('\n'))} 2>/dev/null`;
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
  probe: {
    order: 60,
    tags: ['G', SQL_GUARD_TAG],
    // Shell guards one by one, then every SQL guard of the host in one mysql run.
    script(resources) {
      const lines = resources
        .filter((command) => !isSqlGuard(command.unless))
        .map((command) => `( ${command.unless} ) >/dev/null 2>&1; printf "G\\t%s\\t%s\\n" ${quoteWord(command.name)} "$?"`);
      const sqlGuards = resources.flatMap((command) => (isSqlGuard(command.unless) ? [{ name: command.name, sql: command.unless.sql }] : []));
      if (sqlGuards.length > 0) lines.push(sqlGuardBatch(sqlGuards));
      return lines;
    },
    parse(lines, facts) {
      for (const [tag, name, value] of lines) {
        if (!name) continue;
        if (tag === 'G') facts.guards[name] = Number(value);
        else facts.queries[name] = value ?? '';
      }
    },
  },
  apply: {
    order: 70,
    steps: (changes) => changes.flatMap((change) => (change.action === 'noop' ? [] : commandSteps(change.resource, change.action))),
  },
  converge(resource, _action, facts) {
    if (isSqlGuard(resource.unless)) facts.queries[resource.name] = resource.unless.expected;
    else facts.guards[resource.name] = 0;
  },
};
