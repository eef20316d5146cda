import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { REPO_MOUNT } from './base.js';
import { prepareMachineCgroups, removeMachineCgroups } from './cgroup.js';
import { run, sleep, withSbinPath } from './exec.js';
import type { HostPaths } from './paths.js';
import type { LabMachinePlan } from './plan.js';

/**
 * Booting and stopping one lab host: a systemd-nspawn process started detached (its own session,
 * output to the host's console log) so it outlives the `infra lab up` that started it.
 */

export interface BootInput {
  host: LabMachinePlan;
  hp: HostPaths;
  repoDir: string;
  /** The lab's bridge, which the host's veth joins. */
  bridge: string;
}

/** The nspawn command line; pure, so the flags are reviewed in one place. */
export function nspawnArgs(input: BootInput): string[] {
  return [
    '--boot',
    `--directory=${input.hp.merged}`,
    `--machine=${input.host.machine}`,
    // The controller's PID 1 is not systemd: there is no machined to register with and no unit
    // to move into.
    '--register=no',
    '--keep-unit',
    `--network-bridge=${input.bridge}`,
    `--bind-ro=${input.repoDir}:${REPO_MOUNT}`,
    // Keep the host's own files as in the base: no controller resolv.conf, timezone or journal link.
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
    '--console=read-only',
  ];
}

/**
 * nspawn, started through a shell that first moves itself into the machine's own cgroups
 * (`cgroup.ts`) and then execs nspawn under the same pid. The shell's `$0` is `systemd-nspawn` and
 * nspawn's flags follow, so the process reads as this machine's nspawn from its first instant.
 */
const JOIN_CGROUPS_THEN_EXEC = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec systemd-nspawn "$@"';

export function bootCommand(input: BootInput, cgroupProcsFiles: readonly string[]): string[] {
  return ['-c', JOIN_CGROUPS_THEN_EXEC, 'systemd-nspawn', ...cgroupProcsFiles, '--', ...nspawnArgs(input)];
}

export async function bootHost(input: BootInput): Promise<number> {
  const cgroupProcsFiles = await prepareMachineCgroups(input.host.machine);
  const fd = openSync(input.hp.console, 'a');
  try {
    writeSync(fd, `\n=== infra lab: booting ${input.host.machine} at ${new Date().toISOString()} ===\n`);
    const child = spawn('sh', bootCommand(input, cgroupProcsFiles), {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: withSbinPath(process.env),
    });
    if (child.pid === undefined) throw new Error(`could not start systemd-nspawn for ${input.host.machine}`);
    child.on('error', () => undefined);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export interface ProcStat {
  /** R, S, Z… */
  state: string;
  ppid: number;
  /** Clock ticks after boot: with the pid, it names one process (pids are reused). */
  startTime: string;
}

/** Fields of a /proc/PID/stat line. The command name (field 2) may hold spaces and parentheses: read after the last ')'. */
export function parseProcStat(stat: string): ProcStat {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', ppid: Number(rest[1]), startTime: rest[19] ?? '' };
}

/** The process's stat, or undefined when the pid is gone. */
async function procState(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

async function cmdline(pid: number): Promise<string[]> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((s) => s !== '');
  } catch {
    return [];
  }
}

/**
 * Whether `pid` is still the nspawn process of this machine. Checking the command line guards
 * against a recycled pid; a zombie (exited, not yet reaped by whoever adopted it) counts as gone.
 */
export async function isHostRunning(pid: number | undefined, machine: string): Promise<boolean> {
  if (!pid) return false;
  const st = await procState(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  let argv = await cmdline(pid);
  // A process in the middle of execve (the boot shell becoming nspawn) shows an empty command
  // line until the new program's arguments are mapped: read again rather than call it gone.
  for (let attempt = 0; argv.length === 0 && attempt < 10; attempt++) {
    await sleep(20);
    argv = await cmdline(pid);
  }
  return argv.some((a) => a.endsWith('systemd-nspawn')) && argv.includes(`--machine=${machine}`);
}

/** nspawn processes whose root is under `hostsDir`, found by command line (lost or stale state). */
export async function findNspawnProcesses(hostsDir: string): Promise<{ pid: number; machine: string }[]> {
  const found: { pid: number; machine: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = await cmdline(pid);
    if (!argv.some((a) => a.endsWith('systemd-nspawn'))) continue;
    if (!argv.some((a) => a.startsWith(`--directory=${hostsDir}/`))) continue;
    const st = await procState(pid);
    if (!st || st.state === 'Z') continue;
    const machine = argv.find((a) => a.startsWith('--machine='))?.slice('--machine='.length) ?? '?';
    found.push({ pid, machine });
  }
  return found;
}

async function childrenOf(pid: number): Promise<number[]> {
  const kids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = await procState(Number(entry));
    if (st?.ppid === pid) kids.push(Number(entry));
  }
  return kids;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Whether the process that `started` names has exited. Not isHostRunning: an exiting process has
 * already lost its command line (so looks like another one) while it still tears down its
 * network and mounts, which is how `lab down` once returned with an nspawn still running.
 */
async function hasExited(pid: number, started: ProcStat): Promise<boolean> {
  const now = await procState(pid);
  return !now || now.startTime !== started.startTime || now.state === 'Z' || now.state === 'X';
}

async function waitExited(pid: number, started: ProcStat, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await hasExited(pid, started)) return true;
    await sleep(100);
  }
  return hasExited(pid, started);
}

/**
 * Stops a host. `graceful`: SIGTERM to nspawn, which asks the host's systemd for a clean poweroff;
 * after `timeoutMs` it is forced. Forced: SIGKILL the host's init (nspawn's child — killing
 * nspawn alone would orphan a running container), then nspawn exits and cleans up its veth.
 */
export async function stopHost(pid: number, machine: string, mode: { graceful: boolean; timeoutMs: number }): Promise<void> {
  const started = (await isHostRunning(pid, machine)) ? await procState(pid) : undefined;
  if (started) {
    let exited = false;
    if (mode.graceful) {
      signal(pid, 'SIGTERM');
      exited = await waitExited(pid, started, mode.timeoutMs);
    }
    if (!exited && !(await forceExit(pid, started))) throw new Error(`the systemd-nspawn of ${machine} (pid ${pid}) did not exit, even killed`);
  }
  await removeMachineCgroups(machine);
}

async function forceExit(pid: number, started: ProcStat): Promise<boolean> {
  for (const child of await childrenOf(pid)) signal(child, 'SIGKILL');
  if (await waitExited(pid, started, 10_000)) return true;
  signal(pid, 'SIGKILL');
  return waitExited(pid, started, 5_000);
}

function tcpOpen(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** ssh options that verify the host key against the lab's known_hosts and never prompt. */
export function labSshArgs(keyFile: string, knownHosts: string): string[] {
  return [
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=3',
    '-o',
    'LogLevel=ERROR',
    '-i',
    keyFile,
  ];
}

/**
 * Succeeds on a host once users other than root may log in (no /run/nologin).
 * systemd-user-sessions, which removes that file, sometimes fails at boot in a container on a
 * busy machine (status 219/CGROUP); it is started again then, as an operator would.
 */
const USERS_MAY_LOG_IN =
  '[ ! -e /run/nologin ] || { systemctl is-failed -q systemd-user-sessions.service && systemctl restart systemd-user-sessions.service; [ ! -e /run/nologin ]; }';

/**
 * Waits until the host answers SSH as root with its own host key verified (port 22 open first,
 * cheap to poll, then one real login) and lets other users log in too: root may log in while
 * /run/nologin still says the system is booting, which refuses the lab's sudo user `ops`.
 */
export async function waitForSsh(
  host: LabMachinePlan,
  hp: HostPaths,
  ssh: { keyFile: string; knownHosts: string },
  timeoutMs: number,
  stillRunning: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'port 22 never opened';
  while (Date.now() < deadline) {
    // A host whose nspawn exited will never answer: say so now, not after the timeout.
    if (!(await stillRunning())) {
      lastError = 'its systemd-nspawn process exited';
      break;
    }
    if (await tcpOpen(host.address, 22, 1000)) {
      try {
        await run('ssh', [...labSshArgs(ssh.keyFile, ssh.knownHosts), `root@${host.address}`, USERS_MAY_LOG_IN], { timeoutMs: 15_000 });
        return;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
    }
    await sleep(250);
  }
  const consoleTail = (await readFile(hp.console, 'utf8').catch(() => '')).split('\n').slice(-20).join('\n');
  throw new Error(
    `lab host ${host.name} (${host.address}) did not answer SSH (waited up to ${Math.round(timeoutMs / 1000)} s): ${lastError}\n` +
      `last console lines (${hp.console}):\n${consoleTail}`,
  );
}
