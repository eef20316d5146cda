import { isAbsolute, join, resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import { DEFAULT_RELEASE, releaseDirNames, type LabRelease } from './distro.js';
import { DEFAULT_SUBNET, labNaming, parseSubnet, type LabNaming, type LabSubnet } from './plan.js';

/**
 * Where the lab keeps its state on the controller. Everything that must survive `down` and
 * `reset` lives here (base image, package repo, lab key, sudo password, per-host SSH host keys),
 * so known_hosts stays valid across resets and a cached base makes `up` fast.
 */

export const DEFAULT_LAB_DIR = '/var/lib/infra-lab';

export interface LabPaths {
  root: string;
  /** The release's cached bare Debian root filesystem (read-only lower layer of every host). */
  base: string;
  /** The release's (and db engine's) local apt repository, bound read-only into every host. */
  repo: string;
  /** Where the repository is resolved, in an overlay of the base (one build at a time: the lab lock). */
  repoBuild: string;
  hostsDir: string;
  /** The lab's SSH key pair (root and ops log in with it). */
  key: string;
  /** The ops user's sudo password (mode 0600) and its crypt(3) hash. */
  opsPassword: string;
  opsPasswordHash: string;
  /** Which hosts the lab runs, their addresses and nspawn pids. */
  state: string;
  /** Serialises lab commands: two `up` at once would race on mounts and the bridge. */
  lock: string;
}

export interface HostPaths {
  dir: string;
  upper: string;
  work: string;
  merged: string;
  /** The host's SSH host keys, generated once and kept: copied into the upper dir on every reset. */
  sshKeys: string;
  machineId: string;
  console: string;
}

export function labDirFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.INFRA_LAB_DIR?.trim() || DEFAULT_LAB_DIR;
  if (!isAbsolute(dir)) throw new UserError(`INFRA_LAB_DIR must be an absolute path (got "${dir}")`);
  // overlayfs mount options are comma separated and lowerdir lists are colon separated: such a
  // character in the path would be read as an option separator.
  if (/[,:\s\\]/.test(dir)) {
    throw new UserError(`INFRA_LAB_DIR "${dir}" contains a comma, colon, backslash or space, which overlayfs mount options cannot hold; choose a plain path`);
  }
  return resolve(dir);
}

export function subnetFromEnv(env: NodeJS.ProcessEnv = process.env): LabSubnet {
  return parseSubnet(env.INFRA_LAB_SUBNET?.trim() || DEFAULT_SUBNET);
}

export function namingFromEnv(env: NodeJS.ProcessEnv = process.env): LabNaming {
  return labNaming(env.INFRA_LAB_NAME?.trim());
}

/** The lab's paths for one release: each has its own base and repository beside the others. */
export function labPaths(root: string, release: LabRelease = DEFAULT_RELEASE): LabPaths {
  const dirs = releaseDirNames(release);
  return {
    root,
    base: join(root, dirs.base),
    repo: join(root, dirs.repo),
    repoBuild: join(root, 'repo-build'),
    hostsDir: join(root, 'hosts'),
    key: join(root, 'id_ed25519'),
    opsPassword: join(root, 'ops-password'),
    opsPasswordHash: join(root, 'ops-password.hash'),
    state: join(root, 'state.json'),
    lock: join(root, 'lock'),
  };
}

export function hostPaths(paths: LabPaths, hostName: string): HostPaths {
  const dir = join(paths.hostsDir, hostName);
  return {
    dir,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    merged: join(dir, 'root'),
    sshKeys: join(dir, 'ssh'),
    machineId: join(dir, 'machine-id'),
    console: join(dir, 'console.log'),
  };
}

/** The files `lab up` writes for the operator, relative to the current directory. */
export interface OutputPaths {
  dir: string;
  inventory: string;
  inventorySudo: string;
  knownHosts: string;
  key: string;
  opsPassword: string;
}

export function outputPaths(cwd: string = process.cwd()): OutputPaths {
  const dir = join(cwd, 'lab');
  return {
    dir,
    inventory: join(dir, 'inventory.yaml'),
    inventorySudo: join(dir, 'inventory-sudo.yaml'),
    knownHosts: join(dir, 'known_hosts'),
    key: join(dir, 'id_ed25519'),
    opsPassword: join(dir, 'ops-password'),
  };
}
