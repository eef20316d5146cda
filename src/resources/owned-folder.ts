import { quoteWord } from '../core/shell.js';
import type { Facts, OwnedFolderResource } from '../core/types.js';
import type { ResourceKind } from './kind.js';
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

/** Where entries taken out of owned folders are kept for the operator, one folder per run. */
const REMOVED_DIR = '/var/lib/infra/removed';

/**
 * Moves the entries of an owned folder that infra did not write out of it (into REMOVED_DIR, so a
 * hand-written file can still be recovered), recording each in `__moved` to put back if the
 * config then fails validation. A rename moves a link itself, never what it points at; the
 * run's own staging folders stay.
 */
function clearOwnedFolder(folder: OwnedFolderResource): string[] {
  const keep = folder.keep.map((name) => `[${quoteWord(name)}]=1`).join(' ');
  return [
    `step ${quoteWord(`remove what infra did not write from ${folder.path}`)}`,
    `private_dir ${quoteWord(folder.path)}`,
    `must install -d -m 0700 "$__removed"`,
    `declare -A __keep=(${keep})`,
    'shopt -s nullglob dotglob',
    `for __p in ${quoteWord(folder.path)}/*; do`,
    '  __n=${__p##*/}; [[ -n ${__keep[$__n]} || -n ${__staging[$__p]} || $__n == *.infra-new || $__n == *.infra-bak ]] && continue',
    '  must mv -fT -- "$__p" "$__removed/${__p//\\//%}"; __moved+=("$__p")',
    'done',
    'shopt -u nullglob dotglob',
  ];
}

/** Puts back what clearOwnedFolder moved. */
const RESTORE_MOVED = 'for __p in "${__moved[@]}"; do mv -fT -- "$__removed/${__p//\\//%}" "$__p"; done';

export const ownedFolderKind: ResourceKind<'owned-folder'> = {
  kind: 'owned-folder',
  label: (resource) => `folder ${resource.path}`,
  plan: planOwnedFolder,
  probe: {
    order: 50,
    tags: ['L'],
    script(resources) {
      if (resources.length === 0) return [];
      return [
        'shopt -s nullglob dotglob',
        `for __d in ${resources.map((r) => quoteWord(r.path)).join(' ')}; do [ -d "$__d" ] || continue; __e=("$__d"/*); printf "L\t%s" "$__d"; printf "\t%s" "\${__e[@]##*/}"; echo; done`,
        'shopt -u nullglob dotglob',
      ];
    },
    parse(lines, facts) {
      // One line per owned folder: its path, then its entry names (a name never holds a tab).
      for (const [, path, ...entries] of lines) if (path) facts.folders[path] = entries.filter(Boolean);
    },
  },
  apply: {
    order: 60,
    steps(changes) {
      const folders = changes.filter((change) => change.action !== 'noop').map((change) => change.resource);
      if (folders.length === 0) return [];
      return [`__removed=${REMOVED_DIR}/$(date -u +%Y%m%dT%H%M%SZ)-$$; __moved=()`, ...folders.flatMap(clearOwnedFolder)];
    },
    validated: { restore: RESTORE_MOVED },
  },
  converge(resource, _action, facts) {
    const foreign = foreignEntries(resource, facts);
    facts.folders[resource.path] = (facts.folders[resource.path] ?? []).filter((name) => !foreign.includes(name));
  },
};
