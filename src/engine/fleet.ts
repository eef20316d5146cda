import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Secret } from '../core/secret.js';
import type { Host, Inventory, JumpHost } from '../inventory/model.js';
import { DEFAULT_IDENTITY_FILE } from '../inventory/schema.js';
import { resolveSecret } from '../inventory/secrets.js';
import { KeyStore, type PassphrasePrompt } from '../transport/keys.js';
import { mapWithLimit } from '../transport/pool.js';
import { ConnectionError, HostConnection, type ConnectOptions, type ConnectionTarget } from '../transport/ssh.js';

export interface FleetOptions {
  forks: number;
  acceptNewHostKeys: boolean;
  /** Hosts named by --replace-host: reinstalled, so a changed host key is taken and recorded. */
  replaceHostKeys: ReadonlySet<string>;
  /** Asks for an encrypted key's passphrase when INFRA_SSH_PASSPHRASE is not set (the CLI's prompt, on a terminal). */
  askPassphrase?: PassphrasePrompt;
}

/**
 * The open connections of a run: one per host, opened in parallel (at most `forks` at once) and
 * reused by every step until `close()`. A host that cannot be reached is kept with its named
 * failure while the others carry on.
 */
export class Fleet {
  /** Connections to jump hosts, one per jump host however many hosts go through it. */
  private readonly jumps = new Map<string, Promise<HostConnection>>();
  private readonly keys: KeyStore;

  private constructor(
    private readonly inventory: Inventory,
    private readonly options: FleetOptions,
    readonly connections: Map<string, HostConnection>,
    readonly failures: Map<string, ConnectionError>,
    readonly secrets: Secret[],
  ) {
    this.keys = new KeyStore(options.askPassphrase);
    // The same array, filled as keys are opened, so every redaction of this run hides passphrases.
    this.keys.passphrases = secrets;
  }

  static async connect(inventory: Inventory, hosts: readonly Host[], options: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet(inventory, options, new Map(), new Map(), []);
    const results = await mapWithLimit(hosts, options.forks, (host) => fleet.open(host));
    results.forEach((result, index) => {
      const host = hosts[index] as Host;
      if (result.status === 'fulfilled') fleet.connections.set(host.name, result.value);
      else {
        const reason = result.reason;
        fleet.failures.set(host.name, reason instanceof ConnectionError ? reason : new ConnectionError(host.name, 'other', String(reason?.message ?? reason)));
      }
    });
    return fleet;
  }

  private async open(host: Host): Promise<HostConnection> {
    const target = await targetFor(this.inventory, host);
    if (target.sudo?.password) this.secrets.push(target.sudo.password);
    const jumpHost = host.ssh.jumpHost;
    const via = jumpHost ? await this.jumpConnection(host, jumpHost) : undefined;
    return HostConnection.open(target, { ...connectOptions(this.options, host), keys: this.keys, ...(via ? { via } : {}) });
  }

  /** The connection to a jump host, opened once and checked against known_hosts like any host. */
  private jumpConnection(host: Host, jump: JumpHost): Promise<HostConnection> {
    const id = `${jump.user}@${jump.address}:${jump.port}`;
    let connection = this.jumps.get(id);
    if (!connection) {
      const target: ConnectionTarget = {
        host: `${jump.hostName} (jump host)`,
        hostName: jump.hostName,
        address: jump.address,
        port: jump.port,
        user: jump.user,
        ...credentialsFor(jump.identityFile),
        knownHostsFile: host.ssh.hostKey.knownHostsFile,
        connectTimeoutSeconds: host.ssh.connectTimeout,
      };
      connection = HostConnection.open(target, { acceptNewHostKeys: this.options.acceptNewHostKeys, replaceHostKey: false, keys: this.keys });
      this.jumps.set(id, connection);
    }
    return connection.catch((err: unknown) => {
      const reason = err instanceof ConnectionError ? err.message : String(err);
      throw new ConnectionError(host.name, err instanceof ConnectionError ? err.kind : 'other', `through jump host ${jump.spec}: ${reason}`);
    });
  }

  /**
   * The connection to any host of the inventory, opened on first use: a web host's rolling change
   * needs its lb hosts even when `--limit web` left them out of the run.
   */
  async connectionTo(hostName: string): Promise<HostConnection> {
    const open = this.connections.get(hostName);
    if (open) return open;
    const failure = this.failures.get(hostName);
    if (failure) throw failure;
    const host = this.inventory.hosts.find((h) => h.name === hostName);
    if (!host) throw new ConnectionError(hostName, 'other', 'not in the inventory');
    const connection = await this.open(host);
    this.connections.set(hostName, connection);
    return connection;
  }

  close(): void {
    for (const connection of this.connections.values()) connection.close();
    for (const jump of this.jumps.values())
      jump.then(
        (connection) => connection.close(),
        () => undefined,
      );
  }
}

function connectOptions(options: FleetOptions, host: Host): ConnectOptions {
  return { acceptNewHostKeys: options.acceptNewHostKeys, replaceHostKey: options.replaceHostKeys.has(host.name) };
}

/**
 * The keys a connection offers, as ssh does: the named key file and the ssh-agent's keys; with
 * neither a named key nor an agent (SSH_AUTH_SOCK), the default key file.
 */
export function credentialsFor(
  identityFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Pick<ConnectionTarget, 'identityFile' | 'agent' | 'defaultKey'> {
  const agent = env.SSH_AUTH_SOCK || undefined;
  if (identityFile !== undefined) return { identityFile, ...(agent ? { agent } : {}) };
  if (agent) return { agent };
  return { identityFile: join(env.HOME || homedir(), DEFAULT_IDENTITY_FILE.slice(2)), defaultKey: true };
}

async function targetFor(inventory: Inventory, host: Host): Promise<ConnectionTarget> {
  const ssh = host.ssh;
  const target: ConnectionTarget = {
    host: host.name,
    ...(ssh.hostName !== host.address ? { hostName: ssh.hostName } : {}),
    address: host.address,
    port: ssh.port,
    user: ssh.user,
    ...credentialsFor(ssh.identityFile),
    fingerprint: ssh.hostKey.fingerprint,
    knownHostsFile: ssh.hostKey.knownHostsFile,
    connectTimeoutSeconds: ssh.connectTimeout,
  };
  if (ssh.sudo) {
    target.sudo = ssh.sudo.password ? { password: await resolveSecret(ssh.sudo.password, inventory) } : {};
  }
  return target;
}
