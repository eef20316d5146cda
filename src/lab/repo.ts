import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEBIAN_MIRROR, DEBIAN_SUITE, type BaseInfo } from './base.js';
import { run } from './exec.js';
import { mountOverlay, removeTree } from './mounts.js';
import type { LabPaths } from './paths.js';

/**
 * The lab's local apt repository: every role package and every dependency a bare lab host lacks,
 * so hosts install offline (`deb [trusted=yes] file:/srv/infra-repo ./` is their only source).
 * Dependencies are resolved by apt itself inside a throwaway overlay of the base, so the set is
 * exactly what a bare host needs — no guessing.
 */

export const DEBIAN_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';
const META_FILE = '.infra-repo.json';

export interface RepoInfo {
  /** Hash of (package list, base id): a different list or a rebuilt base means a rebuild. */
  hash: string;
  packages: string[];
  baseId: string;
  debs: number;
  builtAt: string;
}

export function repoHash(packages: readonly string[], baseId: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ packages: [...new Set(packages)].sort(), baseId }))
    .digest('hex');
}

export async function readRepoInfo(paths: LabPaths): Promise<RepoInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(paths.repo, META_FILE), 'utf8')) as RepoInfo;
  } catch {
    return undefined;
  }
}

// The mirror is served as a snapshot whose Release files are past their Valid-Until date.
const APT_OPTIONS = ['-q', '-o', 'Acquire::Check-Valid-Until=false', '-o', 'Acquire::Languages=none'];

export async function ensureRepo(
  paths: LabPaths,
  base: BaseInfo,
  packages: readonly string[],
  log: (line: string) => void,
): Promise<{ info: RepoInfo; built: boolean; ms: number }> {
  const hash = repoHash(packages, base.id);
  const existing = await readRepoInfo(paths);
  if (existing?.hash === hash) return { info: existing, built: false, ms: 0 };
  const started = Date.now();
  const work = join(paths.root, 'repo-build');
  const tmp = `${paths.repo}.tmp`;
  await removeTree(work);
  await removeTree(tmp);
  const merged = join(work, 'root');
  await mountOverlay(paths.base, join(work, 'upper'), join(work, 'work'), merged);
  try {
    await writeFile(
      join(merged, 'etc/apt/sources.list'),
      [
        `deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE} main`,
        `deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE}-updates main`,
        `deb ${DEBIAN_SECURITY_MIRROR} ${DEBIAN_SUITE}-security main`,
      ].join('\n') + '\n',
    );
    await rm(join(merged, 'etc/resolv.conf'), { force: true });
    await copyFile('/etc/resolv.conf', join(merged, 'etc/resolv.conf'));
    log('apt-get update in a throwaway chroot of the base');
    await run('chroot', [merged, 'apt-get', ...APT_OPTIONS, 'update']);
    log(`downloading ${packages.length} role packages and their dependencies`);
    // --reinstall so packages the base already has (python3) are in the repo too: the repo holds
    // every package of the list, not only the missing ones.
    await run('chroot', [merged, 'apt-get', ...APT_OPTIONS, '-y', '--download-only', '--reinstall', 'install', ...packages], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    await mkdir(tmp, { recursive: true });
    const archives = join(merged, 'var/cache/apt/archives');
    const debs = (await readdir(archives)).filter((f) => f.endsWith('.deb'));
    for (const deb of debs) await copyFile(join(archives, deb), join(tmp, deb));
    log(`indexing ${debs.length} packages (dpkg-scanpackages)`);
    const { stdout } = await run('dpkg-scanpackages', ['-m', '.'], { cwd: tmp });
    await writeFile(join(tmp, 'Packages'), stdout);
    const info: RepoInfo = { hash, packages: [...packages], baseId: base.id, debs: debs.length, builtAt: new Date().toISOString() };
    await writeFile(join(tmp, META_FILE), JSON.stringify(info, null, 2) + '\n');
    const old = `${paths.repo}.old`;
    await removeTree(old);
    await rename(paths.repo, old).catch(() => undefined);
    await rename(tmp, paths.repo);
    await removeTree(old);
    return { info, built: true, ms: Date.now() - started };
  } finally {
    await removeTree(work);
    await removeTree(tmp);
  }
}
