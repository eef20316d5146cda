import { DB_ENGINE_NAMES, DB_SERVER_PACKAGES, type DbEngineName, type DbPlatform } from '../roles/db-engines.js';
import type { Host } from '../inventory/model.js';
import type { Fleet } from './fleet.js';

/**
 * The one read of a db host before rendering: roles are pure functions of the inventory, but
 * which server a db host runs, and at which version, is the host's (what is installed, its
 * /etc/os-release). One exec on each db host, none elsewhere; its result goes into rendering as
 * data (see chooseDbFlavor).
 */

const PACKAGES = DB_ENGINE_NAMES.map((name) => DB_SERVER_PACKAGES[name]);

export const DB_PLATFORM_SCRIPT = [
  '. /etc/os-release',
  `printf 'os\\t%s\\t%s\\n' "$ID" "$VERSION_ID"`,
  // Installed means dpkg's "ii": a package removed but not purged is listed too, as "rc".
  `__installed=$(dpkg-query -W -f='installed\\t\${Package}\\t\${Version}\\t\${db:Status-Abbrev}\\n' ${PACKAGES.join(' ')} 2>/dev/null)`,
  'printf \'%s\\n\' "$__installed"',
  // The candidates choose a server only for a host with none installed; apt-cache reads the whole
  // package cache (0.37 s of CPU each where apt knows Debian's archive), so a running one skips them.
  `[[ $__installed == *$'\\tii '* ]] || for __p in ${PACKAGES.join(' ')}; do printf 'candidate\\t%s\\t%s\\n' "$__p" "$(apt-cache policy "$__p" 2>/dev/null | sed -n 's/^ *Candidate: //p')"; done`,
  'exit 0',
].join('\n');

const ENGINE_OF_PACKAGE = new Map<string, DbEngineName>(DB_ENGINE_NAMES.map((name) => [DB_SERVER_PACKAGES[name], name]));

export function parseDbPlatform(stdout: string): DbPlatform {
  const platform: DbPlatform = { os: { id: '', versionId: '' }, installed: {}, candidates: {} };
  for (const line of stdout.split('\n')) {
    const [tag, first = '', second = '', status = ''] = line.split('\t');
    if (tag === 'os') platform.os = { id: first, versionId: second };
    const engine = ENGINE_OF_PACKAGE.get(first);
    if (!engine || second === '' || second === '(none)') continue;
    if (tag === 'installed' && status.trim() === 'ii') platform.installed[engine] = second;
    if (tag === 'candidate') platform.candidates[engine] = second;
  }
  return platform;
}

/** Reads the platform of every connected db host among `hosts`; a host that fails the read is left out (rendered from the inventory alone). */
export async function readDbPlatforms(fleet: Fleet, hosts: readonly Host[]): Promise<Map<string, DbPlatform>> {
  const platforms = new Map<string, DbPlatform>();
  await Promise.all(
    hosts
      .filter((host) => host.roles.includes('db') && fleet.connections.has(host.name))
      .map(async (host) => {
        // A connection lost here fails the host's steps later, with the run's own report.
        const result = await (await fleet.connectionTo(host.name)).run(DB_PLATFORM_SCRIPT).catch(() => undefined);
        if (result?.code === 0) platforms.set(host.name, parseDbPlatform(result.stdout));
      }),
  );
  return platforms;
}
