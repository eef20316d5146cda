import { quoteWord } from '../core/shell.js';
import type { DirectoryResource, Facts } from '../core/types.js';
import { PATH_PROBE, ownershipDrift, parentOf } from './file.js';
import type { ResourceKind } from './kind.js';
import type { ResourceVerdict } from './verdict.js';

export function planDirectory(resource: DirectoryResource, facts: Facts): ResourceVerdict {
  const fact = facts.files[resource.path] ?? { exists: false };
  if (!fact.exists) return { action: 'create', reason: 'missing' };
  if (fact.type !== 'directory') return { action: 'update', reason: `is a ${fact.type}, not a directory` };
  const drift = ownershipDrift(resource, fact);
  return drift.length === 0 ? { action: 'noop', reason: 'mode and owner match' } : { action: 'update', reason: drift.join(', ') };
}

function directorySteps(dir: DirectoryResource): string[] {
  const path = quoteWord(dir.path);
  return [
    `step ${quoteWord(`directory ${dir.path}`)}`,
    `private_dir ${quoteWord(parentOf(dir.path))} ${path}`,
    // install would chown and chmod what a link there points at.
    `if [[ -L ${path} ]]; then fail ${quoteWord(`${dir.path} is a link; infra keeps a folder there`)}; fi`,
    `must install -d -m ${quoteWord(dir.mode)} -o ${quoteWord(dir.owner)} -g ${quoteWord(dir.group)} ${path}`,
  ];
}

export const directoryKind: ResourceKind<'directory'> = {
  kind: 'directory',
  label: (resource) => `directory ${resource.path}`,
  plan: planDirectory,
  probe: PATH_PROBE,
  apply: {
    order: 20,
    steps: (changes) => changes.filter((change) => change.action !== 'noop').flatMap((change) => directorySteps(change.resource)),
  },
  converge(resource, _action, facts) {
    facts.files[resource.path] = { exists: true, type: 'directory', mode: resource.mode, owner: resource.owner, group: resource.group };
  },
};
