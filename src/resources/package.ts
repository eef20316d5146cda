import type { Facts, PackageResource } from '../core/types.js';
import type { ResourceVerdict } from './verdict.js';

export function planPackage(resource: PackageResource, facts: Facts): ResourceVerdict {
  const version = facts.packages[resource.name];
  return version ? { action: 'noop', reason: `installed (${version})` } : { action: 'create', reason: 'not installed' };
}
