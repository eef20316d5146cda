import type { Secret } from '../core/secret.js';
import type { Host, Inventory } from '../inventory/model.js';
import { resolveSecret } from '../inventory/secrets.js';
import { mapWithLimit } from '../transport/pool.js';
import { ConnectionError, HostConnection, type ConnectOptions, type ConnectionTarget } from '../transport/ssh.js';

export interface FleetOptions {
  forks: number;
  acceptNewHostKeys: boolean;
  /** Hosts named by --replace-host: reinstalled, so a changed host key is taken and recorded. */
  replaceHostKeys: ReadonlySet<string>;
}

/**
 * The open connections of a run: one per host, opened in parallel (at most `forks` at once) and
 * reused by every step until `close()`. A host that cannot be reached is kept with its named
 * failure while the others carry on.
 */
export class Fleet {
  private constructor(
    private readonly inventory: Inventory,
    private readonly options: FleetOptions,
    readonly connections: Map<string, HostConnection>,
    readonly failures: Map<string, ConnectionError>,
    readonly secrets: Secret[],
  ) {}

  static async connect(inventory: Inventory, hosts: readonly Host[], options: FleetOptions): Promise<Fleet> {
    const connections = new Map<string, HostConnection>();
    const failures = new Map<string, ConnectionError>();
    const secrets: Secret[] = [];
    const results = await mapWithLimit(hosts, options.forks, async (host) => {
      const target = await targetFor(inventory, host);
      if (target.sudo?.password) secrets.push(target.sudo.password);
      return HostConnection.open(target, connectOptions(options, host));
    });
    results.forEach((result, index) => {
      const host = hosts[index] as Host;
      if (result.status === 'fulfilled') connections.set(host.name, result.value);
      else {
        const reason = result.reason;
        failures.set(host.name, reason instanceof ConnectionError ? reason : new ConnectionError(host.name, 'other', String(reason?.message ?? reason)));
      }
    });
    return new Fleet(inventory, options, connections, failures, secrets);
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
    const target = await targetFor(this.inventory, host);
    if (target.sudo?.password) this.secrets.push(target.sudo.password);
    const connection = await HostConnection.open(target, connectOptions(this.options, host));
    this.connections.set(hostName, connection);
    return connection;
  }

  close(): void {
    for (const connection of this.connections.values()) connection.close();
  }
}

function connectOptions(options: FleetOptions, host: Host): ConnectOptions {
  return { acceptNewHostKeys: options.acceptNewHostKeys, replaceHostKey: options.replaceHostKeys.has(host.name) };
}

async function targetFor(inventory: Inventory, host: Host): Promise<ConnectionTarget> {
  const ssh = host.ssh;
  const target: ConnectionTarget = {
    host: host.name,
    address: host.address,
    port: ssh.port,
    user: ssh.user,
    identityFile: ssh.identityFile,
    fingerprint: ssh.hostKey.fingerprint,
    knownHostsFile: ssh.hostKey.knownHostsFile,
    connectTimeoutSeconds: ssh.connectTimeout,
  };
  if (ssh.sudo) {
    target.sudo = ssh.sudo.password ? { password: await resolveSecret(ssh.sudo.password, inventory) } : {};
  }
  return target;
}
