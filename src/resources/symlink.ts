import { quoteWord } from '../core/shell.js';
import type { Facts, SymlinkResource } from '../core/types.js';
import { PATH_PROBE } from './file.js';
import type { ResourceKind } from './kind.js';
import type { ResourceVerdict } from './verdict.js';

export function planSymlink(resource: SymlinkResource, facts: Facts): ResourceVerdict {
  const fact = facts.files[resource.path] ?? { exists: false };
  if (!fact.exists) return { action: 'create', reason: 'missing' };
  if (fact.type !== 'symlink') return { action: 'update', reason: `is a ${fact.type}, not a symlink` };
  return fact.target === resource.target
    ? { action: 'noop', reason: `points at ${resource.target}` }
    : { action: 'update', reason: `points at ${fact.target} → ${resource.target}` };
}

/** A new link is made in the staging folder beside the old one and renamed over it, so the switch is atomic. */
function symlinkSteps(link: SymlinkResource): string[] {
  const staged = `"$__tmp"/${quoteWord(`link.${link.path.replace(/^.*\//, '')}`)}`;
  return [
    `step ${quoteWord(`symlink ${link.path}`)}`,
    `staging_dir ${quoteWord(link.path)}`,
    `must ln -s -- ${quoteWord(link.target)} ${staged}`,
    `must mv -fT -- ${staged} ${quoteWord(link.path)}`,
  ];
}

export const symlinkKind: ResourceKind<'symlink'> = {
  kind: 'symlink',
  label: (resource) => `symlink ${resource.path} → ${resource.target}`,
  plan: planSymlink,
  probe: PATH_PROBE,
  apply: {
    order: 40,
    steps: (changes) => changes.filter((change) => change.action !== 'noop').flatMap((change) => symlinkSteps(change.resource)),
    validated: {},
  },
  converge(resource, _action, facts) {
    facts.files[resource.path] = { exists: true, type: 'symlink', target: resource.target };
  },
};
