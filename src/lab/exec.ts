import { execFile, type ExecFileOptions } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { UserError } from '../core/errors.js';

/**
 * Runs controller commands for the lab. Always an argument array (no shell), so a path or a name
 * never becomes shell text.
 */

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Text written to the command's stdin (e.g. a password, never put on argv). */
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly code: number | string | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-15).join('\n');
    super(`${command} ${args.join(' ')} failed (exit ${String(code)})${tail ? `:\n${tail}` : ''}`);
    this.name = 'CommandError';
  }
}

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const execOptions: ExecFileOptions = {
    cwd: options.cwd,
    env: options.env ?? withSbinPath(process.env),
    maxBuffer: 64 * 1024 * 1024,
    timeout: options.timeoutMs ?? 0,
    encoding: 'utf8',
  };
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...args], execOptions, (err, stdout, stderr) => {
      const out = String(stdout);
      const errText = String(stderr);
      if (err) {
        const code = (err as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
        if (code === 'ENOENT') {
          reject(new UserError(`${command} is not installed; run: apt-get install -y ${packageOf(command)}`));
          return;
        }
        reject(new CommandError(command, args, code, out, errText));
        return;
      }
      resolve({ stdout: out, stderr: errText });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** debootstrap, chroot and ip live in /usr/sbin, which a non-login root shell may lack on PATH. */
export function withSbinPath(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const path = env.PATH ?? '/usr/bin:/bin';
  const extra = ['/usr/local/sbin', '/usr/sbin', '/sbin'].filter((d) => !path.split(delimiter).includes(d));
  return { ...env, PATH: [path, ...extra].join(delimiter) };
}

/** The Debian package of each controller tool the lab calls, for the message that says how to install it. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  'systemd-nspawn': 'systemd-container',
  debootstrap: 'debootstrap',
  'dpkg-scanpackages': 'dpkg-dev',
  'ssh-keygen': 'openssh-client',
  ssh: 'openssh-client',
  ip: 'iproute2',
  mount: 'mount',
  umount: 'mount',
  chroot: 'coreutils',
  openssl: 'openssl',
};

export const SYSTEM_DEPS_LINE = 'apt-get install -y systemd-container debootstrap dpkg-dev openssh-client iproute2 openssl';

function packageOf(command: string): string {
  return TOOL_PACKAGES[command] ?? command;
}

async function onPath(command: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  // debootstrap lives in /usr/sbin, which a non-login root shell may lack on PATH.
  for (const dir of [...dirs, '/usr/sbin', '/sbin']) {
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Throws a UserError naming every missing tool and the one apt-get line that installs them all. */
export async function requireTools(commands: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const c of commands) if (!(await onPath(c))) missing.push(c);
  if (missing.length > 0) {
    throw new UserError(`the lab needs ${missing.join(', ')} on this machine; install with:\n  ${SYSTEM_DEPS_LINE}\n` + `(or run scripts/system-deps.sh)`);
  }
}

export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new UserError(
      'the lab must run as root (it mounts overlays, creates a bridge and boots systemd-nspawn hosts); ' +
        'run it again with sudo, e.g. `sudo node bin/infra lab up`',
    );
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether a path exists (any type). */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
