import { UserError } from '../core/errors.js';
import { DB_ENGINE_NAMES, DB_SERVER_PACKAGES, type DbEngineName } from '../roles/db-engines.js';

/**
 * Which Debian release the lab's hosts run and which database engine its db hosts get: the base
 * image and the package repository are built (and cached) per release, the repository also per
 * engine. Pure: names, apt sources and the choice of a suite, tested as data.
 */

export type LabDistro = 'bookworm' | 'trixie';

export interface LabDistroInfo {
  /** What the operator reads. */
  title: string;
  suite: string;
  securitySuite: string;
}

export const LAB_DISTROS: Readonly<Record<LabDistro, LabDistroInfo>> = {
  bookworm: { title: 'Debian 12', suite: 'bookworm', securitySuite: 'bookworm-security' },
  trixie: { title: 'Debian 13', suite: 'trixie', securitySuite: 'trixie-security' },
};

export const LAB_DISTRO_NAMES = Object.keys(LAB_DISTROS) as LabDistro[];
export const LAB_DB_ENGINES = DB_ENGINE_NAMES;

/**
 * Where the repository build looks for a db server package the release itself lacks (Oracle's
 * MySQL is in no stable Debian release: unstable ships it). Pinned at priority 1, so nothing comes
 * from there but the packages pinned to it by name (see packagePins).
 */
export const ENGINE_FALLBACK_SUITES: readonly string[] = ['sid'];

export interface LabRelease {
  distro: LabDistro;
  dbEngine: DbEngineName;
}

export const DEFAULT_RELEASE: Readonly<LabRelease> = { distro: 'bookworm', dbEngine: 'mariadb' };

export function parseDistro(value: string): LabDistro {
  if (!(LAB_DISTRO_NAMES as string[]).includes(value)) throw new UserError(`--distro takes ${LAB_DISTRO_NAMES.join(' or ')} (got "${value}")`);
  return value as LabDistro;
}

export function parseDbEngine(value: string): DbEngineName {
  if (!(LAB_DB_ENGINES as string[]).includes(value)) throw new UserError(`--db-engine takes ${LAB_DB_ENGINES.join(' or ')} (got "${value}")`);
  return value as DbEngineName;
}

/**
 * The folder names of a release's base and repository under the lab dir. The default release
 * keeps the names it always had (`base`, `repo`), so an existing cache stays valid.
 */
export function releaseDirNames(release: LabRelease): { base: string; repo: string } {
  const base = release.distro === DEFAULT_RELEASE.distro ? 'base' : `base-${release.distro}`;
  const isDefault = release.distro === DEFAULT_RELEASE.distro && release.dbEngine === DEFAULT_RELEASE.dbEngine;
  return { base, repo: isDefault ? 'repo' : `repo-${release.distro}-${release.dbEngine}` };
}

/** The apt sources of the repository build: the release, its updates and security, and the fallback suites. */
export function buildAptSources(distro: LabDistro, mirror: string, securityMirror: string, fallbackSuites: readonly string[]): string {
  const { suite, securitySuite } = LAB_DISTROS[distro];
  return (
    [
      `deb ${mirror} ${suite} main`,
      `deb ${mirror} ${suite}-updates main`,
      `deb ${securityMirror} ${securitySuite} main`,
      ...fallbackSuites.map((fallback) => `deb ${mirror} ${fallback} main`),
    ].join('\n') + '\n'
  );
}

/** apt preferences that keep the fallback suites out of every choice but the packages asked from them. */
export function fallbackPins(fallbackSuites: readonly string[]): string {
  return fallbackSuites.map((fallback) => `Package: *\nPin: release n=${fallback}\nPin-Priority: 1\n`).join('\n');
}

/** apt preferences that take these packages from `suite` (above the release's 500). */
export function packagePins(names: readonly string[], suite: string): string {
  return names.map((name) => `Package: ${name}\nPin: release n=${suite}\nPin-Priority: 990\n`).join('\n');
}

/**
 * The package versions apt's solver (3.0, whose explanation apt prints after a failed install)
 * names as refused: lines `name:arch=version is not selected for install`. Pinning such a
 * package to the fallback suite, when that is the fallback's version, is what the next try needs:
 * apt takes only candidate versions, so the dependencies of a package from sid that the release's
 * own version cannot satisfy (sid's mysql-server-core needs a newer libstdc++6) are found this way,
 * one round at a time.
 */
export function refusedVersions(aptOutput: string): { name: string; version: string }[] {
  const found = new Map<string, string>();
  for (const match of aptOutput.matchAll(/([a-z0-9][a-z0-9.+-]*):[a-z0-9-]+=(\S+) is not selected for install/g)) {
    found.set(`${match[1]}=${match[2]}`, match[1] as string);
  }
  return [...found.entries()].map(([key, name]) => ({ name, version: key.slice(name.length + 1) }));
}

/** The version `apt-cache madison` lists for a suite, if any. */
export function versionInSuite(madison: string, suite: string): string | undefined {
  for (const line of madison.split('\n')) {
    const [, version, source] = line.split('|').map((field) => field.trim());
    if (version && source?.split(/\s+/)[1]?.split('/')[0] === suite) return version;
  }
  return undefined;
}

/**
 * The suite to take a package from, read from `apt-cache madison <package>` (lines
 * `pkg | version | mirror suite/component arch Packages`): the release's own suites when one
 * has it, else the first fallback suite that does; undefined when none has it.
 */
export function suiteForPackage(madison: string, distro: LabDistro, fallbackSuites: readonly string[]): string | undefined {
  const suites = new Set(
    madison
      .split('\n')
      .map((line) => line.split('|')[2]?.trim().split(/\s+/)[1]?.split('/')[0])
      .filter((suite): suite is string => Boolean(suite)),
  );
  const { suite, securitySuite } = LAB_DISTROS[distro];
  if ([suite, `${suite}-updates`, securitySuite].some((own) => suites.has(own))) return suite;
  return fallbackSuites.find((fallback) => suites.has(fallback));
}

/**
 * The packages of the lab's repository for an engine: every role package, with the db server of
 * that engine in place of the others (two servers cannot be installed together, so apt could not
 * resolve both).
 */
export function repoPackages(rolePackages: readonly string[], dbEngine: DbEngineName, extra: readonly string[]): string[] {
  const otherServers = new Set(Object.values(DB_SERVER_PACKAGES));
  return [...new Set([...rolePackages.filter((name) => !otherServers.has(name)), DB_SERVER_PACKAGES[dbEngine], ...extra])].sort();
}
