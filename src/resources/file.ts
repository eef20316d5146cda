import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import { quoteCommand, quoteWord } from '../core/shell.js';
import type { AbsentResource, DirectoryResource, Facts, FileFact, FileResource, SymlinkResource } from '../core/types.js';
import type { ProbeFragment, ResourceKind } from './kind.js';
import type { ResourceVerdict } from './verdict.js';

/** How the probe reports a file's content and the plan compares it: hex SHA-256 of its UTF-8 bytes. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** "0644" and "644" are the same mode. */
export function sameMode(wanted: string, actual: string | undefined): boolean {
  return actual !== undefined && parseInt(wanted, 8) === parseInt(actual, 8);
}

export function ownershipDrift(resource: FileResource | DirectoryResource, fact: FileFact): string[] {
  const drift: string[] = [];
  if (!sameMode(resource.mode, fact.mode)) drift.push(`mode ${fact.mode} → ${resource.mode}`);
  if (fact.owner !== resource.owner || fact.group !== resource.group) {
    drift.push(`owner ${fact.owner}:${fact.group} → ${resource.owner}:${resource.group}`);
  }
  return drift;
}

/** The folder a managed path is in. */
export function parentOf(path: string): string {
  return path.replace(/\/[^/]*$/, '') || '/';
}

const FILE_TYPES: Record<string, string> = {
  'regular file': 'file',
  'regular empty file': 'file',
  directory: 'directory',
  'symbolic link': 'symlink',
};

/** A `stat --printf '%n\t%F\t%a\t%U\t%G\t%N'` line (QUOTING_STYLE=literal): `%N` is `path -> target` for a link. */
function parseStatLine(fields: string[]): FileFact {
  const [path = '', typeName = '', mode, owner, group, described = ''] = fields;
  const fact: FileFact = { exists: true, type: FILE_TYPES[typeName] ?? 'other', mode, owner, group };
  const arrow = `${path} -> `;
  if (fact.type === 'symlink' && described.startsWith(arrow)) fact.target = described.slice(arrow.length);
  return fact;
}

type PathResource = FileResource | DirectoryResource | SymlinkResource | AbsentResource;

/**
 * Every managed path (files, directories, symlinks, absent paths) read with a handful of processes
 * whatever their number (a fork costs tens of milliseconds on a busy host): one `stat` for type,
 * mode, owner and symlink target, one `sha256sum` for the regular files, and `base64` only for a
 * file whose hash is not the wanted one (its content makes the diff) and that holds no secrets
 * (those never leave the host). A path stat cannot read does not exist.
 */
export const PATH_PROBE: ProbeFragment<PathResource> = {
  order: 10,
  tags: ['F', 'D', 'B'],
  script(resources) {
    const wanted = new Map<string, string>();
    const diffable: string[] = [];
    for (const resource of resources) {
      if (resource.kind === 'file') {
        wanted.set(resource.path, sha256Hex(resource.content));
        if ((resource.secrets ?? []).length === 0) diffable.push(resource.path);
      } else wanted.set(resource.path, '-');
    }
    if (wanted.size === 0) return [];
    const paths = [...wanted.keys()].map(quoteWord).join(' ');
    const hashes = [...wanted]
      .filter(([, hash]) => hash !== '-')
      .map(([path, hash]) => `[${quoteWord(path)}]=${hash}`)
      .join(' ');
    return [
      `QUOTING_STYLE=literal stat --printf 'F\\t%n\\t%F\\t%a\\t%U\\t%G\\t%N\\n' -- ${paths} 2>/dev/null`,
      `declare -A want=(${hashes})`,
      `declare -A diffable=(${diffable.map((path) => `[${quoteWord(path)}]=1`).join(' ')})`,
      'files=(); for p in "${!want[@]}"; do [ -f "$p" ] && [ ! -L "$p" ] && files+=("$p"); done',
      'if [ ${#files[@]} -gt 0 ]; then',
      '  while read -r sum path; do',
      '    printf "D\\t%s\\t%s\\n" "$path" "$sum"',
      '    if [ "$sum" != "${want[$path]}" ] && [ -n "${diffable[$path]}" ]; then printf "B\\t%s\\t" "$path"; base64 -w0 < "$path"; echo; fi',
      '  done < <(sha256sum -- "${files[@]}")',
      'fi',
    ];
  },
  parse(lines, facts) {
    for (const [tag, ...fields] of lines) {
      const fact = fields[0] ? facts.files[fields[0]] : undefined;
      if (tag === 'F' && fields[0]) facts.files[fields[0]] = parseStatLine(fields);
      else if (tag === 'D' && fact) fact.sha256 = fields[1];
      else if (tag === 'B' && fact) fact.content = Buffer.from(fields[1] ?? '', 'base64').toString('utf8');
    }
  },
};

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

/**
 * Stages a file's new content in the run's private folder beside it, then (once every file of the
 * phase is staged) renames it over the path: stage_file and activate_file are the change script's
 * safe-write helpers (WRITE_HELPERS in apply/scripts.ts).
 */
function fileSteps(files: readonly FileResource[]): string[] {
  const staged = files.flatMap((file) => {
    const body = Buffer.from(file.content, 'utf8')
      .toString('base64')
      .replace(/.{1,76}/g, '$&\n');
    return [
      `step ${quoteWord(`write ${file.path}`)}`,
      `stage_file ${quoteCommand([file.path, `${file.owner}:${file.group}`, file.mode])} <<'INFRA_EOF'`,
      body + 'INFRA_EOF',
    ];
  });
  const activated = files.flatMap((file) => [`step ${quoteWord(`activate ${file.path}`)}`, `activate_file ${quoteWord(file.path)}`]);
  return [...staged, ...activated];
}

export const fileKind: ResourceKind<'file'> = {
  kind: 'file',
  label: (resource) => `file ${resource.path}`,
  plan: planFile,
  probe: PATH_PROBE,
  apply: {
    order: 30,
    steps: (changes) => fileSteps(changes.filter((change) => change.action !== 'noop').map((change) => change.resource)),
    validated: {},
  },
  converge(resource, _action, facts) {
    facts.files[resource.path] = {
      exists: true,
      type: 'file',
      sha256: sha256Hex(resource.content),
      mode: resource.mode,
      owner: resource.owner,
      group: resource.group,
    };
  },
};
