import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';
import { removeTree, unmountUnder } from './mounts.js';
import { LAB_DISTROS, type LabDistro } from './distro.js';
import type { LabPaths } from './paths.js';

/**
 * The cached bare Debian root filesystem of a release (lab/distro.ts) every host boots from (as the read-only lower layer of
 * its overlay). It holds no role package: hosts start as bare servers and the tool under test
 * installs the roles from the lab's apt repository.
 */

export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
export const BASE_INCLUDE = ['systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'iproute2', 'python3', 'sudo', 'ca-certificates'];
/** The mount point of the lab repository inside every host. */
export const REPO_MOUNT = '/srv/infra-repo';
export const REPO_SOURCE_LINE = `deb [trusted=yes] file:${REPO_MOUNT} ./`;
/** The non-root login whose sudo asks for a password. */
export const OPS_USER = 'ops';

/** Written into the base when it is complete; its presence is what makes a base "cached". */
const MARKER = 'etc/infra-lab-base.json';

export interface BaseInfo {
  /** Changes on every rebuild, so the repo (resolved against this base) knows to rebuild too. */
  id: string;
  builtAt: string;
  suite: string;
  include: string[];
}

export async function readBaseInfo(paths: LabPaths): Promise<BaseInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(paths.base, MARKER), 'utf8')) as BaseInfo;
  } catch {
    return undefined;
  }
}

/**
 * Returns the cached base, building it first when missing. The build goes to a temporary folder
 * renamed into place only once complete, so an interrupted build is never taken for a cached one.
 */
export async function ensureBase(paths: LabPaths, distro: LabDistro, log: (line: string) => void): Promise<{ info: BaseInfo; built: boolean; ms: number }> {
  const suite = LAB_DISTROS[distro].suite;
  const cached = await readBaseInfo(paths);
  if (cached?.suite === suite) return { info: cached, built: false, ms: 0 };
  const started = Date.now();
  const tmp = `${paths.base}.tmp`;
  // A leftover from an interrupted build (debootstrap leaves /proc mounted inside it).
  await removeTree(tmp);
  await removeTree(paths.base);
  await mkdir(paths.root, { recursive: true });
  log(`debootstrap ${suite} (minbase) from ${DEBIAN_MIRROR}`);
  try {
    await run('debootstrap', ['--variant=minbase', `--include=${BASE_INCLUDE.join(',')}`, suite, tmp, DEBIAN_MIRROR]);
  } catch (err) {
    await removeTree(tmp);
    throw err;
  }
  // debootstrap may leave /proc (and more) mounted in the target.
  await unmountUnder(tmp);
  const info: BaseInfo = { id: randomUUID(), builtAt: new Date().toISOString(), suite, include: BASE_INCLUDE };
  await prepareBase(tmp);
  await writeFile(join(tmp, MARKER), JSON.stringify(info, null, 2) + '\n');
  await rename(tmp, paths.base);
  return { info, built: true, ms: Date.now() - started };
}

/**
 * What every lab host has in common beyond debootstrap, and why:
 * - apt's only source is the lab repository (hosts have no internet);
 * - no SSH host keys: each host gets its own, kept by the lab, at boot time;
 * - systemd-networkd on, so the per-host file for `host0` gives the static address;
 * - the `ops` user in group sudo (its password hash is written per host);
 * - an empty machine-id, written per host;
 * - no console getty: nobody logs in on the nspawn console, and it would only spin.
 */
async function prepareBase(root: string): Promise<void> {
  await writeFile(join(root, 'etc/apt/sources.list'), `# The lab's hosts install only from the lab repository.\n${REPO_SOURCE_LINE}\n`);
  await rm(join(root, 'etc/apt/sources.list.d'), { recursive: true, force: true });
  await mkdir(join(root, 'etc/apt/sources.list.d'), { recursive: true });
  await mkdir(join(root, REPO_MOUNT.slice(1)), { recursive: true });
  // Lists and .debs fetched by debootstrap refer to the Debian mirror, which hosts cannot reach.
  await run('rm', ['-rf', '--one-file-system', join(root, 'var/lib/apt/lists'), join(root, 'var/cache/apt/archives')]);
  await mkdir(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  await mkdir(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
  await run('sh', ['-c', 'rm -f "$1"/etc/ssh/ssh_host_*', 'sh', root]);
  await run('chroot', [root, 'systemctl', 'enable', 'systemd-networkd.service']);
  await run('chroot', [root, 'systemctl', 'mask', 'console-getty.service', 'systemd-networkd-wait-online.service']);
  await run('chroot', [root, 'useradd', '--create-home', '--shell', '/bin/bash', '--groups', 'sudo', OPS_USER]);
  await writeFile(join(root, 'etc/machine-id'), '');
  await rm(join(root, 'var/lib/dbus/machine-id'), { force: true });
}
