import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { REPLICATION_SQL } from '../../src/db/replication.js';
import { DEFAULT_RELEASE, parseDbEngine, parseDistro, type LabRelease } from '../../src/lab/distro.js';
import { dbEngine } from '../../src/roles/db-engines.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const LAB_DIR = join(ROOT, 'lab');
export const LAB_INVENTORY = join(LAB_DIR, 'inventory.yaml');
export const LAB_SUDO_INVENTORY = join(LAB_DIR, 'inventory-sudo.yaml');

/**
 * The release the lab of this e2e run boots: bookworm with MariaDB, or what INFRA_E2E_DISTRO and
 * INFRA_E2E_DB_ENGINE name (CI's second pass: trixie, mysql).
 */
export function e2eRelease(env: NodeJS.ProcessEnv = process.env): LabRelease {
  return {
    distro: env.INFRA_E2E_DISTRO ? parseDistro(env.INFRA_E2E_DISTRO) : DEFAULT_RELEASE.distro,
    dbEngine: env.INFRA_E2E_DB_ENGINE ? parseDbEngine(env.INFRA_E2E_DB_ENGINE) : DEFAULT_RELEASE.dbEngine,
  };
}

/** The db server of the run's lab, from the engine table: its service and replication statements. */
export const E2E_DB = dbEngine(e2eRelease().dbEngine);

/** The replica status fields of the run's engine: its source, and its IO and SQL threads. */
export const REPLICA_FIELDS = REPLICATION_SQL[E2E_DB.kind].fields;

/** The shell command that prints a db host's replica status, one `Field: value` a line. */
export const REPLICA_STATUS_COMMAND = `mysql --vertical -e '${E2E_DB.replication.status}'`;

/** The statement that stops a replica (STOP SLAVE on MariaDB, STOP REPLICA on MySQL). */
export const STOP_REPLICA = E2E_DB.replication.statements({ address: '', port: '', user: '', password: '' })[0] as string;

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (bin/infra) as a user would, without a terminal. */
export function runInfra(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'infra'), ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolvePromise({ code: code ?? 255, stdout, stderr }));
  });
}

export interface LabHost {
  name: string;
  address: string;
  roles: string[];
}

/** The hosts of the lab inventory written by `infra lab up`. */
export async function labHosts(): Promise<LabHost[]> {
  const doc = parse(await readFile(LAB_INVENTORY, 'utf8')) as { hosts: Record<string, { address: string; roles: string[] }> };
  return Object.entries(doc.hosts).map(([name, host]) => ({ name, address: host.address, roles: host.roles }));
}

/** Runs a command on a lab host as root with OpenSSH, host key checked against the lab's known_hosts. */
export function onHost(address: string, command: string, timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    execFile(
      'ssh',
      [
        '-i',
        join(LAB_DIR, 'id_ed25519'),
        '-o',
        `UserKnownHostsFile=${join(LAB_DIR, 'known_hosts')}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=5',
        `root@${address}`,
        command,
      ],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 255) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

/** Like onHost, but fails the test with the host's output when the command fails. */
export async function mustOnHost(address: string, command: string): Promise<string> {
  const result = await onHost(address, command);
  if (result.code !== 0) throw new Error(`on ${address}: \`${command}\` exited ${result.code}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/**
 * A copy of the lab inventory, changed by `edit`, written into a temp folder with the lab's key
 * and known_hosts beside it (paths in the inventory are relative to it).
 */
export async function labInventoryVariant(edit: (doc: Record<string, any>) => void, knownHosts?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-inv-'));
  const doc = parse(await readFile(LAB_INVENTORY, 'utf8')) as Record<string, any>;
  doc.state_dir = join(LAB_DIR, '.infra');
  // The lab's state directory goes with the lab's shared state file, never with another.
  if (doc.state) doc.state.file = join(LAB_DIR, 'infra-state.age');
  doc.ssh = { ...doc.ssh, identity_file: join(LAB_DIR, 'id_ed25519'), known_hosts: join(dir, 'known_hosts') };
  if (doc.app?.source) doc.app.source = resolve(LAB_DIR, doc.app.source);
  edit(doc);
  await writeFile(join(dir, 'inventory.yaml'), stringify(doc));
  if (knownHosts === undefined) await copyFile(join(LAB_DIR, 'known_hosts'), join(dir, 'known_hosts'));
  else await writeFile(join(dir, 'known_hosts'), knownHosts);
  return join(dir, 'inventory.yaml');
}

export interface JsonReport {
  ok: boolean;
  connections: number;
  hosts: {
    host: string;
    status: string;
    changed: number;
    unchanged: number;
    error?: string;
    phases: { phase: string; changed: number; handlers: string[]; ms?: number }[];
  }[];
}

export function parseReport(result: CommandResult): JsonReport {
  try {
    return JSON.parse(result.stdout) as JsonReport;
  } catch {
    throw new Error(`infra did not print a JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/**
 * What a command printed, as an assertion message: its output, then each failed host's error from a
 * JSON report last, where a truncated CI log still shows it (a report's plans can run to pages).
 */
export function told(result: CommandResult): string {
  const output = result.stdout + result.stderr;
  let report: Partial<JsonReport>;
  try {
    report = JSON.parse(result.stdout) as Partial<JsonReport>;
  } catch {
    return output;
  }
  const failed = (report.hosts ?? []).filter((h) => h.error !== undefined).map((h) => `${h.host} ${h.status}: ${h.error}`);
  return failed.length === 0 ? output : `${output}\nfailed hosts:\n${failed.join('\n')}`;
}

/** Polls `check` every half second until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The lb hosts that hold `vip` now (exactly one when all is well). */
export async function vipHolders(hosts: readonly LabHost[], vip: string): Promise<string[]> {
  const lbs = hosts.filter((h) => h.roles.includes('lb'));
  const held = await Promise.all(lbs.map(async (lb) => ((await mustOnHost(lb.address, 'ip -o -4 addr show')).includes(` ${vip}/`) ? lb.name : '')));
  return held.filter(Boolean);
}
