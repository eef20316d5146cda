import type { Facts, OwnedFolderResource } from '../core/types.js';
import type { ResourceVerdict } from './verdict.js';

/** Entries a run leaves for a moment beside the files it writes (see apply/scripts.ts). */
const TRANSIENT_SUFFIXES = ['.infra-new', '.infra-bak'];

/** The entries of an owned folder that infra did not write and the inventory does not keep. */
export function foreignEntries(resource: OwnedFolderResource, facts: Facts): string[] {
  const entries = facts.folders[resource.path] ?? [];
  return entries.filter((name) => !resource.keep.includes(name) && !TRANSIENT_SUFFIXES.some((suffix) => name.endsWith(suffix)));
}

export function planOwnedFolder(resource: OwnedFolderResource, facts: Facts): ResourceVerdict {
  const foreign = foreignEntries(resource, facts);
  return foreign.length === 0
    ? { action: 'noop', reason: 'holds only what infra wrote' }
    : { action: 'delete', reason: `not written by infra: ${foreign.join(', ')} (keep them with extra_files)` };
}
