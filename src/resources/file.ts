import { createTwoFilesPatch } from 'diff';
import type { AbsentResource, DirectoryResource, Facts, FileFact, FileResource, SymlinkResource } from '../core/types.js';
import { sha256Hex } from '../facts/probe.js';
import type { ResourceVerdict } from './verdict.js';

/** "0644" and "644" are the same mode. */
export function sameMode(wanted: string, actual: string | undefined): boolean {
  return actual !== undefined && parseInt(wanted, 8) === parseInt(actual, 8);
}

function ownershipDrift(resource: FileResource | DirectoryResource, fact: FileFact): string[] {
  const drift: string[] = [];
  if (!sameMode(resource.mode, fact.mode)) drift.push(`mode ${fact.mode} → ${resource.mode}`);
  if (fact.owner !== resource.owner || fact.group !== resource.group) {
    drift.push(`owner ${fact.owner}:${fact.group} → ${resource.owner}:${resource.group}`);
  }
  return drift;
}

/**
 * A file that holds secrets (a private key, a password) never gets a diff, on creation or update:
 * the old content on the host may hold an old secret infra no longer knows, and a secret spread
 * over several lines (a PEM key) survives redaction line by line. The probe does not read it back.
 */
const SECRET_DIFF_WITHHELD = 'holds secrets: no diff shown';

/** A managed file: created when missing, updated when content, mode or owner differ (with a diff). */
export function planFile(resource: FileResource, facts: Facts): ResourceVerdict {
  const fact = facts.files[resource.path] ?? { exists: false };
  const holdsSecrets = (resource.secrets ?? []).length > 0;
  if (!fact.exists) {
    if (holdsSecrets) return { action: 'create', reason: `missing (${SECRET_DIFF_WITHHELD})` };
    return { action: 'create', reason: 'missing', diff: createTwoFilesPatch('/dev/null', resource.path, '', resource.content, '', '', { context: 3 }) };
  }
  if (fact.type !== 'file') return { action: 'update', reason: `is a ${fact.type}, not a file` };
  const drift = ownershipDrift(resource, fact);
  const contentDiffers = fact.sha256 !== sha256Hex(resource.content);
  if (contentDiffers) drift.unshift(holdsSecrets ? `content differs (${SECRET_DIFF_WITHHELD})` : 'content differs');
  if (drift.length === 0) return { action: 'noop', reason: 'content, mode and owner match' };
  const result: ResourceVerdict = { action: 'update', reason: drift.join(', ') };
  if (contentDiffers && !holdsSecrets && fact.content !== undefined) {
    result.diff = createTwoFilesPatch(resource.path, resource.path, fact.content, resource.content, '', '', { context: 3 });
  }
  return result;
}

export function planDirectory(resource: DirectoryResource, facts: Facts): ResourceVerdict {
  const fact = facts.files[resource.path] ?? { exists: false };
  if (!fact.exists) return { action: 'create', reason: 'missing' };
  if (fact.type !== 'directory') return { action: 'update', reason: `is a ${fact.type}, not a directory` };
  const drift = ownershipDrift(resource, fact);
  return drift.length === 0 ? { action: 'noop', reason: 'mode and owner match' } : { action: 'update', reason: drift.join(', ') };
}

export function planSymlink(resource: SymlinkResource, facts: Facts): ResourceVerdict {
  const fact = facts.files[resource.path] ?? { exists: false };
  if (!fact.exists) return { action: 'create', reason: 'missing' };
  if (fact.type !== 'symlink') return { action: 'update', reason: `is a ${fact.type}, not a symlink` };
  return fact.target === resource.target
    ? { action: 'noop', reason: `points at ${resource.target}` }
    : { action: 'update', reason: `points at ${fact.target} → ${resource.target}` };
}

export function planAbsent(resource: AbsentResource, facts: Facts): ResourceVerdict {
  const fact = facts.files[resource.path] ?? { exists: false };
  return fact.exists ? { action: 'delete', reason: `present (${fact.type})` } : { action: 'noop', reason: 'absent' };
}
