import { mkdir, readdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Each lab host's own cgroup. The controller's PID 1 is not systemd, so nspawn runs with
 * `--keep-unit` and puts the host's systemd in a `payload` cgroup below its own. Started from one
 * shared cgroup, every host's systemd would share that `payload` and each would kill and move the
 * others' units (seen as "Failed to kill control group … Input/output error" and units failing
 * with "unavailable resources" or 219/CGROUP). So every nspawn first moves into
 * `<hierarchy>/infra-lab/<machine>` of the hierarchies systemd tracks processes in.
 */

/** The parent, in each hierarchy, of every lab machine's cgroup. */
export const LAB_CGROUP = 'infra-lab';

/**
 * Where the hierarchies systemd uses are mounted: the named v1 `name=systemd` one (hybrid or
 * legacy layout) and the cgroup2 one (unified or hybrid). From /proc/self/mountinfo text.
 */
export function systemdCgroupMounts(mountinfo: string): string[] {
  const mounts: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [mountFields, superFields] = line.split(' - ');
    if (!mountFields || !superFields) continue;
    const mountPoint = mountFields.split(' ')[4];
    const [fsType, , superOptions = ''] = superFields.split(' ');
    if (!mountPoint) continue;
    if (fsType === 'cgroup2' || (fsType === 'cgroup' && superOptions.split(',').includes('name=systemd'))) mounts.push(mountPoint);
  }
  return mounts;
}

/** The machine's cgroup directory in each of the given hierarchies. */
export function machineCgroupDirs(mounts: readonly string[], machine: string): string[] {
  return mounts.map((m) => join(m, LAB_CGROUP, machine));
}

/** Creates the machine's cgroups; returns their `cgroup.procs` files, which its nspawn joins before it starts. */
export async function prepareMachineCgroups(machine: string): Promise<string[]> {
  const dirs = machineCgroupDirs(systemdCgroupMounts(await readFile('/proc/self/mountinfo', 'utf8')), machine);
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  return dirs.map((d) => join(d, 'cgroup.procs'));
}

/** Removes the machine's cgroups once its nspawn has exited (children first; a cgroup still in use stays). */
export async function removeMachineCgroups(machine: string): Promise<void> {
  const dirs = machineCgroupDirs(systemdCgroupMounts(await readFile('/proc/self/mountinfo', 'utf8')), machine);
  for (const dir of dirs) await removeCgroupTree(dir);
}

async function removeCgroupTree(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(join(dir, e.name));
  try {
    await rmdir(dir);
  } catch {
    // still holds a process: left for the next `down`
  }
}
