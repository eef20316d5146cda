import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { NodeSSH } from 'node-ssh';
import type { Secret } from '../core/secret.js';
import { verifyHostKey, type AcceptedHostKey, type HostKeyVerdict } from './hostkeys.js';
import { KeyError, KeyStore } from './keys.js';

export interface ConnectionTarget {
  host: string;
  /** What the operator named the host by (an address, a DNS name, an ssh config alias): known_hosts is searched for it and for `address`. */
  hostName?: string;
  /** The IPv4 address connected to. */
  address: string;
  port: number;
  user: string;
  /** The private key to offer; without one, the ssh-agent's keys. */
  identityFile?: string;
  /** The identity file is the default key, taken because nothing named one and no ssh-agent runs. */
  defaultKey?: true;
  /** The ssh-agent's socket (SSH_AUTH_SOCK), whose keys are offered after the identity file's. */
  agent?: string;
  fingerprint?: string;
  knownHostsFile?: string;
  connectTimeoutSeconds: number;
  /** Present for a non-root user: every command runs through sudo (with this password if set). */
  sudo?: { password?: Secret };
}

export interface ConnectOptions {
  acceptNewHostKeys: boolean;
  /** The operator named this host with --replace-host: it was reinstalled, and its new key is taken. */
  replaceHostKey: boolean;
  /** Reads (and opens) the private keys; one per run, so a passphrase is asked once per key file. */
  keys?: KeyStore;
  /** An open connection to the jump host the connection goes through (ssh -J). */
  via?: HostConnection;
}

export type ConnectionFailureKind = 'refused' | 'timeout' | 'auth' | 'host-key' | 'unreachable' | 'lost' | 'other';

const SCRIPT_MARKER = '#infra-script-begins';

/** A connection that could not be made or was lost, named so the operator knows what to fix. */
export class ConnectionError extends Error {
  constructor(
    readonly host: string,
    readonly kind: ConnectionFailureKind,
    message: string,
  ) {
    super(`${host}: ${message}`);
    this.name = 'ConnectionError';
  }
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Counts connections opened in this process, so tests and reports can show there is one per host. */
export const connectionStats = { opened: 0 };

function openSocket(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      // Without TCP_NODELAY each small SSH packet waits on Nagle's algorithm: about 43 ms an exec
      // instead of about 3 ms on the lab (LAB.md).
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** What the operator reads when a host key is refused: the fingerprints, and the fix that fits. */
export function describeHostKeyFailure(target: ConnectionTarget, options: ConnectOptions, verdict: Exclude<HostKeyVerdict, { ok: true }>): string {
  if (verdict.reason === 'revoked') {
    return (
      `HOST KEY REVOKED: ${target.host} offered ${verdict.offered}, which ${target.knownHostsFile ?? 'known_hosts'} marks @revoked ` +
      `(line ${verdict.line}); it is refused whatever else lists it. Someone may hold the withdrawn key: give the host a new key ` +
      `on its console, then record that one (ssh.host_key, or --replace-host ${target.host})`
    );
  }
  if (verdict.reason === 'unknown') {
    return (
      `host key not known (offered ${verdict.offered}); ` +
      (verdict.certAuthority
        ? `a @cert-authority line covers ${target.host}, but infra cannot check host certificates (its SSH library, ssh2, ` +
          `never asks for one, so the host shows its plain key), and that key must be known itself: `
        : '') +
      (options.replaceHostKey ? `--replace-host replaces a recorded key, and there is none for ${target.host}: ` : '') +
      `verify it and run again with --accept-new-host-keys to record it in ${target.knownHostsFile ?? 'known_hosts'}, ` +
      `or pin it in the inventory (ssh.host_key)`
    );
  }
  const head = `HOST KEY MISMATCH: expected ${verdict.expected.join(' or ')}, offered ${verdict.offered}. `;
  if (verdict.pinned && options.replaceHostKey) {
    return (
      head +
      `The key is pinned in the inventory (ssh.host_key), which --replace-host does not override: ` +
      `check the offered key on the host's console, then set ${target.host}'s ssh.host_key to it`
    );
  }
  return (
    head +
    `The host may have been reinstalled or someone may be intercepting the connection; check the offered key on the host's console, then ` +
    (verdict.pinned
      ? 'fix ssh.host_key in the inventory'
      : `if it was reinstalled, provision it with --replace-host ${target.host}, which replaces its key in ${target.knownHostsFile}`)
  );
}

function classify(target: ConnectionTarget, err: unknown): ConnectionError {
  const error = err as NodeJS.ErrnoException & { level?: string };
  const text = error?.message ?? String(err);
  const code = error?.code ?? '';
  const at = `${target.user}@${target.hostName ? `${target.hostName} (${target.address})` : target.address}:${target.port}`;
  if (code === 'ECONNREFUSED') return new ConnectionError(target.host, 'refused', `connection refused by ${at} (is sshd running, is the port right?)`);
  if (code === 'ETIMEDOUT' || /timed out/i.test(text))
    return new ConnectionError(
      target.host,
      'timeout',
      `no answer from ${at} within ${target.connectTimeoutSeconds}s (host down, or a firewall drops the traffic)`,
    );
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new ConnectionError(target.host, 'unreachable', `${at} is unreachable (${code})`);
  if (/authentication methods failed/i.test(text) || error?.level === 'client-authentication') {
    return new ConnectionError(target.host, 'auth', `authentication failed for ${at} with ${describeCredentials(target)}`);
  }
  return new ConnectionError(target.host, 'other', `${at}: ${text}`);
}

/** The keys a connection offered, for an authentication failure. */
function describeCredentials(target: ConnectionTarget): string {
  const agent = target.agent ? `the ssh-agent's keys (${target.agent})` : undefined;
  if (target.identityFile && agent) return `key ${target.identityFile} and ${agent}`;
  if (target.identityFile) return `key ${target.identityFile}`;
  return agent ?? 'no key (name ssh.identity_file, or start an ssh-agent and set SSH_AUTH_SOCK)';
}

/**
 * Calls the script's function with its stdout kept in a variable and written at the end in one
 * piece: a probe echoes line by line, and each write would otherwise cross as its own SSH packet,
 * to decrypt and acknowledge (measured: about 3 ms of controller CPU per host and probe). The `.`
 * that the EXIT trap prints (also after a script's own `exit`) keeps the trailing newlines that
 * command substitution strips; the exit status is the script's. Scripts must not set an EXIT trap.
 */
const BUFFERED_CALL = `__infra_out=$(trap 'echo .' EXIT; __infra_main </dev/null); __infra_rc=$?; printf %s "\${__infra_out%.}"; exit $__infra_rc`;

/** The text bash reads on stdin for `script`: the script as a function, called as BUFFERED_CALL says. */
export function wrapScript(script: string): string {
  return `__infra_main() {\n${script}\n}\n${BUFFERED_CALL}\n`;
}

/** The client address sshd recorded for this connection (the first word of SSH_CLIENT), or `fallback`. */
async function clientAddressSeenBy(ssh: NodeSSH, fallback: string): Promise<string> {
  try {
    const result = await ssh.execCommand('printf %s "$SSH_CLIENT"');
    const address = result.stdout.split(' ')[0];
    return address ? address : fallback;
  } catch {
    return fallback;
  }
}

/**
 * One SSH connection to one host, reused by every step of a run. Commands are shell text sent on
 * stdin to a shell (never in argv, so nothing shows in the host's process list), as root or
 * through sudo.
 */
export class HostConnection {
  /** Why the connection went away after it was made, if it did. */
  private lostBecause: string | undefined;

  private constructor(
    readonly target: ConnectionTarget,
    /** How the host's key was accepted: known, recorded for the first time, or replaced. */
    readonly hostKey: AcceptedHostKey,
    private readonly ssh: NodeSSH,
    /** This controller's address as the host sees it (what its firewall must let in). */
    readonly localAddress: string,
  ) {}

  static async open(target: ConnectionTarget, options: ConnectOptions): Promise<HostConnection> {
    const timeoutMs = target.connectTimeoutSeconds * 1000;
    let credentials: { privateKey?: string; passphrase?: string; agent?: string } = {};
    if (target.identityFile) {
      try {
        const key = await (options.keys ?? new KeyStore()).privateKey(target.identityFile);
        credentials = { privateKey: key.text, ...(key.passphrase ? { passphrase: key.passphrase.reveal() } : {}) };
      } catch (err) {
        if (!(err instanceof KeyError)) throw new ConnectionError(target.host, 'auth', String(err));
        throw new ConnectionError(
          target.host,
          'auth',
          target.defaultKey && err.unreadable
            ? `no key to offer: no ssh.identity_file is named, no ssh-agent runs (SSH_AUTH_SOCK is unset), and the default key ${target.identityFile} cannot be read`
            : err.message,
        );
      }
    }
    if (target.agent) credentials.agent = target.agent;
    if (!credentials.privateKey && !credentials.agent) throw new ConnectionError(target.host, 'auth', `no key to offer: ${describeCredentials(target)}`);
    let sock: Socket | Duplex;
    try {
      sock = options.via
        ? await options.via.forward(target.address, target.port, target.host, timeoutMs)
        : await openSocket(target.address, target.port, timeoutMs);
    } catch (err) {
      throw err instanceof ConnectionError ? err : classify(target, err);
    }
    let hostKeyFailure: string | undefined;
    let hostKey: AcceptedHostKey | undefined;
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        sock,
        host: target.address,
        port: target.port,
        username: target.user,
        ...credentials,
        readyTimeout: timeoutMs,
        // Detects a host that went away in the middle of a step within about 10 s, yet bears a host
        // too busy to answer for a few seconds (seen on the lab at a load of 50).
        keepaliveInterval: 2000,
        keepaliveCountMax: 5,
        hostVerifier: ((key: Buffer, verify: (ok: boolean) => void) => {
          verifyHostKey(
            {
              address: target.address,
              ...(target.hostName !== undefined ? { hostName: target.hostName } : {}),
              port: target.port,
              fingerprint: target.fingerprint,
              knownHostsFile: target.knownHostsFile,
              acceptNew: options.acceptNewHostKeys,
              replace: options.replaceHostKey,
            },
            key,
          ).then(
            (verdict) => {
              if (verdict.ok) hostKey = verdict;
              else hostKeyFailure = describeHostKeyFailure(target, options, verdict);
              verify(verdict.ok);
            },
            (err: unknown) => {
              hostKeyFailure = `host key check failed: ${String(err)}`;
              verify(false);
            },
          );
        }) as unknown as (key: Buffer) => boolean,
      });
    } catch (err) {
      sock.destroy();
      if (hostKeyFailure) throw new ConnectionError(target.host, 'host-key', hostKeyFailure);
      throw classify(target, err);
    }
    connectionStats.opened += 1;
    // node-ssh listens for errors only until the connection is ready. A later one (a keepalive
    // timeout, a reset) with no listener would crash the whole run: the connection is marked lost
    // instead, and the command running on it fails for this host only.
    // ssh2 completes a connection only after the host verifier said yes, so hostKey is set.
    // Through a jump host, the host sees the connection come from the jump host, from whichever of
    // its addresses faces the host: sshd tells (SSH_CLIENT), one exec on the connection just made.
    const localAddress = options.via ? await clientAddressSeenBy(ssh, options.via.target.address) : ((sock as Socket).localAddress ?? '');
    const connection = new HostConnection(target, hostKey as AcceptedHostKey, ssh, localAddress);
    ssh.connection?.on('error', (err: Error) => {
      connection.lostBecause = err.message;
    });
    return connection;
  }

  /**
   * Runs shell text as root. The script goes over stdin to bash (never in argv, so nothing shows in
   * the host's process list). It is wrapped in a function called with stdin from /dev/null, so a
   * command inside it can never swallow the rest of the script. With a sudo password, the password
   * is the first line of stdin for `sudo -S`; a marker line follows, and everything up to the
   * marker is dropped, so a sudo that did not ask (cached or NOPASSWD) cannot run the password.
   */
  async run(script: string): Promise<ExecResult> {
    const { command, stdin } = this.rootShell(wrapScript(script));
    if (this.lostBecause) throw new ConnectionError(this.target.host, 'lost', `connection lost: ${this.lostBecause}`);
    let result;
    try {
      // Output exactly as the host wrote it: a certificate read back must compare byte for byte.
      result = await this.ssh.execCommand(command, { stdin, noTrim: true });
    } catch (err) {
      throw new ConnectionError(this.target.host, 'lost', `connection lost: ${err instanceof Error ? err.message : String(err)}`);
    }
    // A channel closed without an exit status means the connection went away mid-command.
    if (result.code === null || result.code === undefined) {
      throw new ConnectionError(this.target.host, 'lost', 'connection lost while a command was running');
    }
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  }

  /**
   * Starts shell text as root that keeps running beside the run's other commands, reading its
   * stdin after the script: `release()` writes `releaseLine` and ends stdin. Resolves once the
   * script printed `readyLine` (it holds), or with its whole output once it exited without (it
   * could not). The script ends with the connection too: a killed controller leaves nothing
   * running on the host.
   */
  async hold(script: string, readyLine: string, releaseLine: string): Promise<HeldCommand> {
    if (this.lostBecause) throw new ConnectionError(this.target.host, 'lost', `connection lost: ${this.lostBecause}`);
    const client = this.ssh.connection;
    if (!client) throw new ConnectionError(this.target.host, 'lost', 'connection closed');
    // A function read whole before it runs, so what it reads from stdin is what comes after it.
    const { command, stdin } = this.rootShell(`__infra_held() {\n${script}\n}\n__infra_held\n`);
    return new Promise((resolve, reject) => {
      client.exec(command, (err: Error | undefined, stream: ExecStream) => {
        if (err) {
          reject(new ConnectionError(this.target.host, 'lost', `connection lost: ${err.message}`));
          return;
        }
        let stdout = '';
        let settled = false;
        const closed = new Promise<void>((done) => stream.on('close', () => done()));
        const held: HeldCommand = {
          held: true,
          output: '',
          release: async () => {
            stream.end(`${releaseLine}\n`);
            await closed;
          },
        };
        stream.on('data', (chunk: Buffer) => {
          stdout += chunk.toString('utf8');
          const ready = stdout.indexOf(`${readyLine}\n`);
          if (!settled && ready >= 0) {
            settled = true;
            resolve({ ...held, output: stdout.slice(0, ready) });
          }
        });
        stream.stderr.on('data', () => undefined);
        stream.on('close', (code: number | null) => {
          if (settled) return;
          settled = true;
          if (code === null || code === undefined) reject(new ConnectionError(this.target.host, 'lost', 'connection lost while a command was running'));
          else resolve({ held: false, output: stdout, code, release: async () => undefined });
        });
        stream.write(stdin);
      });
    });
  }

  /**
   * A TCP stream from this host to `address:port` (a direct-tcpip channel, as ssh -J opens), over
   * which another host's SSH connection runs.
   */
  forward(address: string, port: number, forHost: string, timeoutMs: number): Promise<Duplex> {
    const client = this.ssh.connection;
    if (this.lostBecause || !client)
      return Promise.reject(new ConnectionError(forHost, 'lost', `the jump host ${this.target.host} is gone: ${this.lostBecause ?? 'connection closed'}`));
    return new Promise((resolve, reject) => {
      // The jump host's sshd may wait minutes on a firewall that drops the packets: the host's
      // connect timeout holds here too.
      const timer = setTimeout(() => {
        reject(new ConnectionError(forHost, 'timeout', `the jump host ${this.target.host} got no answer from ${address}:${port} within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      client.forwardOut('127.0.0.1', 0, address, port, (err: Error | undefined, stream: Duplex) => {
        clearTimeout(timer);
        if (err) reject(new ConnectionError(forHost, 'unreachable', `the jump host ${this.target.host} cannot reach ${address}:${port}: ${err.message}`));
        else resolve(stream);
      });
    });
  }

  /** The command that runs a bash as root (directly, or through sudo) and the stdin that feeds it `script`. */
  private rootShell(script: string): { command: string; stdin: string } {
    if (this.target.user === 'root' || !this.target.sudo) return { command: 'bash -s', stdin: script };
    const password = this.target.sudo.password;
    if (!password) return { command: 'sudo -n -- bash -s', stdin: script };
    return {
      command: `sudo -S -p '' -- bash -c 'while IFS= read -r line; do [ "$line" = "${SCRIPT_MARKER}" ] && break; done; exec bash -s'`,
      stdin: `${password.reveal()}\n${SCRIPT_MARKER}\n${script}`,
    };
  }

  close(): void {
    this.ssh.dispose();
  }
}

/** The parts of ssh2's exec channel that `hold` uses (node-ssh ships no types for ssh2). */
interface ExecStream {
  on(event: 'data', listener: (chunk: Buffer) => void): void;
  on(event: 'close', listener: (code: number | null) => void): void;
  stderr: { on(event: 'data', listener: (chunk: Buffer) => void): void };
  write(data: string): void;
  end(data: string): void;
}

/** A command left running on a host by `HostConnection.hold`. */
export interface HeldCommand {
  /** Whether the script printed its ready line and still runs. */
  held: boolean;
  /** What it printed before its ready line, or all it printed when it exited without. */
  output: string;
  /** Its exit status, when it exited without holding. */
  code?: number;
  release(): Promise<void>;
}
