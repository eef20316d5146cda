import { quoteWord } from '../core/shell.js';
import type { AbsentResource, Facts } from '../core/types.js';
import { PATH_PROBE, parentOf } from './file.js';
import type { ResourceKind } from './kind.js';
import type { ResourceVerdict } from './verdict.js';

export function planAbsent(resource: AbsentResource, facts: Facts): ResourceVerdict {
  const fact = facts.files[resource.path] ?? { exists: false };
  return fact.exists ? { action: 'delete', reason: `present (${fact.type})` } : { action: 'noop', reason: 'absent' };
}

export const absentKind: ResourceKind<'absent'> = {
  kind: 'absent',
  label: (resource) => `absent ${resource.path}`,
  plan: planAbsent,
  probe: PATH_PROBE,
  apply: {
    order: 50,
    steps(changes, { phaseChanges }) {
      // A package installed since the host was read (by this script or earlier in the run) can bring
      // back a path that was absent then (nginx's default site), so every absent path is enforced.
      const installs = phaseChanges.some((change) => change.resource.kind === 'package' && change.action !== 'noop');
      return (
        changes
          .filter((change) => installs || change.action !== 'noop')
          // rm removes a link, not what it points at, and does not follow links inside a folder it removes.
          .flatMap(({ resource: gone }) => [
            `step ${quoteWord(`remove ${gone.path}`)}`,
            `private_dir ${quoteWord(parentOf(gone.path))} ${quoteWord(gone.path)}`,
            `must rm -rf -- ${quoteWord(gone.path)}`,
          ])
      );
    },
    validated: {},
  },
  converge(resource, _action, facts) {
    delete facts.files[resource.path];
  },
};
