import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machineCgroupDirs, systemdCgroupMounts } from '../../src/lab/cgroup.js';
import { bootCommand } from '../../src/lab/machine.js';
import { labPaths, hostPaths } from '../../src/lab/paths.js';
import { DEFAULT_COUNTS, parseSubnet, planHosts } from '../../src/lab/plan.js';

// The controller of this workplace: cgroup v1 controllers, the named systemd hierarchy and a cgroup2 mount (hybrid).
const HYBRID =
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n' +
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n' +
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n' +
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n' +
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n';
const UNIFIED = '22 1 254:0 / / rw - ext4 /dev/vda rw\n' + '30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n';

describe('each lab machine in its own cgroup', () => {
  it('finds the hierarchies systemd tracks processes in: name=systemd and cgroup2, not the v1 controllers', () => {
    expect(systemdCgroupMounts(HYBRID)).toEqual(['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified']);
    expect(systemdCgroupMounts(UNIFIED)).toEqual(['/sys/fs/cgroup']);
  });

  it('gives two machines different cgroups in every hierarchy', () => {
    const mounts = systemdCgroupMounts(HYBRID);
    expect(machineCgroupDirs(mounts, 'ilab-web1')).toEqual(['/sys/fs/cgroup/systemd/infra-lab/ilab-web1', '/sys/fs/cgroup/unified/infra-lab/ilab-web1']);
    const web2 = machineCgroupDirs(mounts, 'ilab-web2');
    expect(web2.some((d) => machineCgroupDirs(mounts, 'ilab-web1').includes(d))).toBe(false);
  });

  it('starts nspawn under the pid that joined the cgroups, with its flags, and reads as that machine from the start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-cgroup-'));
    const procs = [join(dir, 'a.procs'), join(dir, 'b.procs')];
    for (const p of procs) writeFileSync(p, '');
    writeFileSync(join(dir, 'systemd-nspawn'), '#!/bin/sh\necho "$$ $*"\n');
    chmodSync(join(dir, 'systemd-nspawn'), 0o755);
    const paths = labPaths('/var/lib/infra-lab');
    const [host] = planHosts(DEFAULT_COUNTS, parseSubnet('10.77.0.0/24'));
    const argv = bootCommand({ host: host!, hp: hostPaths(paths, 'lb1'), repoDir: paths.repo, bridge: 'infra-br0' }, procs);
    expect(argv[2]).toBe('systemd-nspawn');
    expect(argv).toContain('--machine=ilab-lb1');

    const out = execFileSync('sh', argv, { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' }).trim();
    const [pid, ...flags] = out.split(' ');
    expect(flags).toContain('--machine=ilab-lb1');
    expect(flags).not.toContain('--');
    for (const p of procs) expect(readFileSync(p, 'utf8').trim()).toBe(pid);
  });

  it('does not start nspawn when a cgroup cannot be joined', () => {
    const paths = labPaths('/var/lib/infra-lab');
    const [host] = planHosts(DEFAULT_COUNTS, parseSubnet('10.77.0.0/24'));
    const argv = bootCommand({ host: host!, hp: hostPaths(paths, 'lb1'), repoDir: paths.repo, bridge: 'infra-br0' }, ['/nonexistent/cgroup.procs']);
    let status: number | null = null;
    try {
      execFileSync('sh', argv, { stdio: 'ignore' });
    } catch (e) {
      status = (e as { status: number | null }).status;
    }
    expect(status).toBe(125);
  });
});
