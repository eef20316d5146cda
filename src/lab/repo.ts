import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DB_SERVER_PACKAGES } from '../roles/db-engines.js';
import { DEBIAN_MIRROR, type BaseInfo } from './base.js';
import {
  buildAptSources,
  ENGINE_FALLBACK_SUITES,
  fallbackPins,
  packagePins,
  refusedVersions,
  suiteForPackage,
  versionInSuite,
  type LabRelease,
} from './distro.js';
import { CommandError, run } from './exec.js';
import { mountOverlay, removeTree } from './mounts.js';
import type { LabPaths } from './paths.js';

/**
 * The lab's local apt repository: every role package and every dependency a bare lab host lacks,
 * so hosts install offline (`deb [trusted=yes] file:/srv/infra-repo ./` is their only source).
 * Dependencies are resolved by apt itself inside a throwaway overlay of the base, so the set is
 * exactly what a bare host needs — no guessing.
 *
 * A db server the release lacks (Oracle's MySQL on Debian) is taken from the first fallback suite
 * that has it (sid), found with apt-cache in the build itself: no version is written down here.
 * That suite is in the build's sources pinned at priority 1; the server, and then each dependency
 * whose release version cannot do (see pinFromFallback), is pinned to it by name, so sid gives
 * only what the server needs and everything else comes from the release. The hosts need no pin:
 * the repository holds one version of each package, and their only source is the repository.
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
  /** The db server package as resolved: its suite and version. */
  dbServer?: { package: string; suite: string; version: string };
}

export function repoHash(packages: readonly string[], baseId: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ packages: [...new Set(packages)].sort(), baseId }))
    .digest('hex');
}

/** The version of `name` among the downloaded files (`name_version_arch.deb`, the epoch's colon as %3a). */
export function debVersion(debs: readonly string[], name: string): string | undefined {
  const file = debs.find((deb) => deb.startsWith(`${name}_`));
  return file ? decodeURIComponent(file.split('_')[1] ?? '') : undefined;
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

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const PINS_FILE = 'etc/apt/preferences.d/infra-lab-pinned';
const MAX_PIN_ROUNDS = 30;

/**
 * Pins `server` to the fallback suite, then, round by round, each package whose fallback version
 * apt's solver says it needed but could not take, until a simulated install of every package
 * succeeds. Returns the pinned names.
 */
async function pinFromFallback(root: string, packages: readonly string[], server: string, suite: string, log: (line: string) => void): Promise<string[]> {
  const pinned = [server];
  for (let round = 0; round < MAX_PIN_ROUNDS; round++) {
    await writeFile(join(root, PINS_FILE), packagePins(pinned, suite));
    let output: string;
    try {
      await run('chroot', [root, 'apt-get', ...APT_OPTIONS, '-s', 'install', ...packages], { env: APT_ENV });
      log(`from ${suite}: ${pinned.join(' ')} (and the packages only ${suite} has)`);
      return pinned;
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      output = `${err.stdout}\n${err.stderr}`;
    }
    const added: string[] = [];
    for (const { name, version } of refusedVersions(output)) {
      if (pinned.includes(name) || added.includes(name)) continue;
      const { stdout: madison } = await run('chroot', [root, 'apt-cache', 'madison', name]);
      if (versionInSuite(madison, suite) === version) added.push(name);
    }
    if (added.length === 0) {
      throw new Error(
        `apt finds no way to install ${server} from ${suite} beside the rest of the release (pinned to ${suite}: ${pinned.join(' ')}):\n${output.trim().split('\n').slice(-25).join('\n')}`,
      );
    }
    pinned.push(...added);
  }
  throw new Error(`more than ${MAX_PIN_ROUNDS} rounds of pinning ${server}'s dependencies to ${suite}: ${pinned.join(' ')}`);
}

export async function ensureRepo(
  paths: LabPaths,
  base: BaseInfo,
  release: LabRelease,
  packages: readonly string[],
  log: (line: string) => void,
): Promise<{ info: RepoInfo; built: boolean; ms: number }> {
  const hash = repoHash(packages, base.id);
  const existing = await readRepoInfo(paths);
  if (existing?.hash === hash) return { info: existing, built: false, ms: 0 };
  const started = Date.now();
  const work = paths.repoBuild;
  const tmp = `${paths.repo}.tmp`;
  await removeTree(work);
  await removeTree(tmp);
  const merged = join(work, 'root');
  await mountOverlay(paths.base, join(work, 'upper'), join(work, 'work'), merged);
  try {
    await writeFile(join(merged, 'etc/apt/sources.list'), buildAptSources(release.distro, DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR, ENGINE_FALLBACK_SUITES));
    await writeFile(join(merged, 'etc/apt/preferences.d/infra-lab-fallback'), fallbackPins(ENGINE_FALLBACK_SUITES));
    await rm(join(merged, 'etc/resolv.conf'), { force: true });
    await copyFile('/etc/resolv.conf', join(merged, 'etc/resolv.conf'));
    log('apt-get update in a throwaway chroot of the base');
    await run('chroot', [merged, 'apt-get', ...APT_OPTIONS, 'update']);
    const server = DB_SERVER_PACKAGES[release.dbEngine];
    const { stdout: madison } = await run('chroot', [merged, 'apt-cache', 'madison', server]);
    const serverSuite = suiteForPackage(madison, release.distro, ENGINE_FALLBACK_SUITES);
    if (!serverSuite) throw new Error(`no suite of ${DEBIAN_MIRROR} (${release.distro} or ${ENGINE_FALLBACK_SUITES.join(', ')}) has ${server}`);
    if (ENGINE_FALLBACK_SUITES.includes(serverSuite)) await pinFromFallback(merged, packages, server, serverSuite, log);
    log(`downloading ${packages.length} role packages and their dependencies (${server} from ${serverSuite})`);
    // --reinstall so packages the base already has (python3) are in the repo too: the repo holds
    // every package of the list, not only the missing ones.
    await run('chroot', [merged, 'apt-get', ...APT_OPTIONS, '-y', '--download-only', '--reinstall', 'install', ...packages], { env: APT_ENV });
    await mkdir(tmp, { recursive: true });
    const archives = join(merged, 'var/cache/apt/archives');
    const debs = (await readdir(archives)).filter((f) => f.endsWith('.deb'));
    for (const deb of debs) await copyFile(join(archives, deb), join(tmp, deb));
    log(`indexing ${debs.length} packages (dpkg-scanpackages)`);
    const { stdout } = await run('dpkg-scanpackages', ['-m', '.'], { cwd: tmp });
    await writeFile(join(tmp, 'Packages'), stdout);
    const info: RepoInfo = {
      hash,
      packages: [...packages],
      baseId: base.id,
      debs: debs.length,
      builtAt: new Date().toISOString(),
      dbServer: { package: server, suite: serverSuite, version: debVersion(debs, server) ?? '?' },
    };
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
