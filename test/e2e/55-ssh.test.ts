import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { quoteCommand } from '../../src/core/shell.js';
import { LAB_DIR, LAB_INVENTORY, ROOT, labHosts, labInventoryVariant, mustOnHost, parseReport, runInfra, waitFor, type LabHost, told } from './helpers.js';

/**
 * SSH as operators use it, on the converged stack (the earlier files leave it so; converged here
 * first when this file runs alone). Each case runs from a copy of the lab inventory, with HOME a
 * fresh folder so that no ~/.ssh of the controller takes part:
 * - no identity_file, the lab key only in an ssh-agent: check and provision work (0 changes), and
 *   without the agent the run names the missing key;
 * - a host given by a name (an /etc/hosts line of the controller, removed after), with its key
 *   recorded in known_hosts under that name only: provision makes 0 changes, so the firewall rules
 *   and services use the resolved address; a name with two addresses is refused at its line
 *   unless `ip` pins one;
 * - an encrypted copy of the lab key: opened with INFRA_SSH_PASSPHRASE or asked for on a terminal,
 *   refused with the fixes named when neither;
 * - a jump host: an app host reached through a web host (its firewall opened to it for the case,
 *   and closed again) logs the login from the web host, and check finds no drift; a host reached
 *   through itself sees the connection come from the jump host; a jump host whose key is unknown
 *   is refused.
 */
let hosts: LabHost[];
let home: string;
let agent: ChildProcess | undefined;
const agentSocket = join(tmpdir(), `infra-e2e-agent-${process.pid}.sock`);
/** Marks the /etc/hosts lines this file adds, so that exactly those are removed. */
const HOSTS_MARK = `# infra-e2e-55-${process.pid}`;

const NAME_DOMAIN = 'infra-e2e.test';

async function addEtcHosts(lines: string[]): Promise<void> {
  const text = await readFile('/etc/hosts', 'utf8');
  await writeFile('/etc/hosts', text + (text.endsWith('\n') ? '' : '\n') + lines.map((line) => `${line} ${HOSTS_MARK}\n`).join(''));
}

async function removeEtcHosts(): Promise<void> {
  const text = await readFile('/etc/hosts', 'utf8');
  await writeFile(
    '/etc/hosts',
    text
      .split('\n')
      .filter((line) => !line.endsWith(HOSTS_MARK))
      .join('\n'),
  );
}

/**
 * The env of a run: a HOME with no ~/.ssh, and no agent unless given. The shared state is opened
 * with the lab key named (age reads a key file, never an agent): what is under test is the SSH side.
 */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { HOME: home, SSH_AUTH_SOCK: '', INFRA_SSH_PASSPHRASE: undefined, INFRA_STATE_IDENTITY: join(LAB_DIR, 'id_ed25519'), ...extra };
}

beforeAll(async () => {
  hosts = await labHosts();
  home = await mkdtemp(join(tmpdir(), 'infra-e2e-home-'));
  if ((await runInfra(['check', LAB_INVENTORY])).code !== 0) {
    const converge = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(converge.code, told(converge)).toBe(0);
  }
}, 900_000);

afterAll(async () => {
  agent?.kill();
  await removeEtcHosts();
  await rm(home, { recursive: true, force: true });
  await rm(agentSocket, { force: true });
});

describe('ssh-agent', () => {
  beforeAll(async () => {
    agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
    await waitFor('the ssh-agent socket', async () => {
      try {
        execFileSync('ssh-add', ['-l'], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket }, stdio: 'ignore' });
        return true;
      } catch (err) {
        // ssh-add -l exits 1 for an agent without keys, 2 when it cannot reach one.
        return (err as { status?: number }).status === 1;
      }
    });
    execFileSync('ssh-add', [join(LAB_DIR, 'id_ed25519')], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket }, stdio: 'ignore' });
  });

  it('an inventory without identity_file works with the lab key only in the agent; without the agent it names what is missing', async () => {
    const inventory = await labInventoryVariant((doc) => {
      delete doc.ssh.identity_file;
    });
    const check = await runInfra(['check', inventory], env({ SSH_AUTH_SOCK: agentSocket }));
    expect(check.code, told(check)).toBe(0);
    const provision = await runInfra(['provision', inventory, '--yes', '--json'], env({ SSH_AUTH_SOCK: agentSocket }));
    const report = parseReport(provision);
    expect(report.ok).toBe(true);
    expect(report.hosts.map((host) => [host.host, host.changed])).toEqual(hosts.map((host) => [host.name, 0]));

    const withoutAgent = await runInfra(['check', inventory], env());
    expect(withoutAgent.code).toBe(1);
    expect(withoutAgent.stdout + withoutAgent.stderr).toContain(
      `no key to offer: no ssh.identity_file is named, no ssh-agent runs (SSH_AUTH_SOCK is unset), and the default key ${join(home, '.ssh/id_ed25519')} cannot be read`,
    );
  });
});

describe('hosts given by name', () => {
  it('a host given by a name (an /etc/hosts line), known in known_hosts by that name only, converges with 0 changes', async () => {
    const named = hosts.find((host) => host.roles.includes('app')) as LabHost;
    const name = `${named.name}.${NAME_DOMAIN}`;
    await addEtcHosts([`${named.address} ${name}`]);
    const knownHosts = (await readFile(join(LAB_DIR, 'known_hosts'), 'utf8'))
      .split('\n')
      .map((line) => (line.startsWith(`${named.address} `) ? `${name}${line.slice(named.address.length)}` : line))
      .join('\n');
    const inventory = await labInventoryVariant((doc) => {
      doc.hosts[named.name].address = name;
    }, knownHosts);
    const provision = await runInfra(['provision', inventory, '--yes', '--json'], env());
    const report = parseReport(provision);
    expect(report.ok, provision.stderr).toBe(true);
    expect(report.hosts.map((host) => [host.host, host.changed])).toEqual(hosts.map((host) => [host.name, 0]));
    expect((await runInfra(['check', inventory], env())).code).toBe(0);
  });

  it('a name with two addresses is refused at its line, and works once ip pins one', async () => {
    const named = hosts.find((host) => host.roles.includes('db')) as LabHost;
    const name = `${named.name}-two.${NAME_DOMAIN}`;
    await addEtcHosts([`${named.address} ${name}`, `192.0.2.254 ${name}`]);
    const inventory = await labInventoryVariant((doc) => {
      doc.hosts[named.name].address = name;
    });
    const refused = await runInfra(['check', inventory], env());
    expect(refused.code).toBe(1);
    const line = (await readFile(inventory, 'utf8')).split('\n').findIndex((text) => text.includes(name)) + 1;
    expect(refused.stderr).toMatch(
      new RegExp(
        `inventory\\.yaml:${line}:\\d+ hosts\\.${named.name}\\.address: ${name.replace(/\./g, '\\.')} resolves to several addresses \\(${named.address.replace(/\./g, '\\.')}, 192\\.0\\.2\\.254\\)`,
      ),
    );

    const doc = parse(await readFile(inventory, 'utf8')) as Record<string, any>;
    doc.hosts[named.name].ip = named.address;
    await writeFile(inventory, stringify(doc));
    const pinned = await runInfra(['check', inventory], env());
    expect(pinned.code, told(pinned)).toBe(0);
  });
});

describe('an encrypted key', () => {
  let inventory: string;
  let keyFile: string;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infra-e2e-key-'));
    keyFile = join(dir, 'id_ed25519');
    await copyFile(join(LAB_DIR, 'id_ed25519'), keyFile);
    execFileSync('ssh-keygen', ['-q', '-p', '-f', keyFile, '-P', '', '-N', 'lab passphrase']);
    inventory = await labInventoryVariant((doc) => {
      doc.ssh.identity_file = keyFile;
    });
  });

  it('opens with INFRA_SSH_PASSPHRASE; with neither it nor a terminal the error names the fixes; a wrong one is refused', async () => {
    const check = await runInfra(['check', inventory], env({ INFRA_SSH_PASSPHRASE: 'lab passphrase' }));
    expect(check.code, told(check)).toBe(0);
    const without = await runInfra(['check', inventory], env());
    expect(without.code).toBe(1);
    expect(without.stdout + without.stderr).toContain(`the identity file ${keyFile} is encrypted and no passphrase was given: set INFRA_SSH_PASSPHRASE`);
    const wrong = await runInfra(['check', inventory], env({ INFRA_SSH_PASSPHRASE: 'not it' }));
    expect(wrong.code).toBe(1);
    expect(wrong.stdout + wrong.stderr).toContain(`the passphrase for ${keyFile} (from INFRA_SSH_PASSPHRASE) does not open it`);
  });

  // That it is asked once per key file, however many hosts use it, is test/unit/ssh-keys.test.ts's.
  it('on a terminal it is asked for, masked, and the run goes on with it', async () => {
    const command = quoteCommand([process.execPath, join(ROOT, 'bin', 'infra'), 'check', inventory]);
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, ...env(), NO_COLOR: '1' } as NodeJS.ProcessEnv });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 255)));
    await waitFor('the passphrase question', async () => output.includes(`passphrase for ${keyFile}`), 30_000);
    child.stdin.write('lab passphrase\r');
    expect(await exited, output).toBe(0);
    expect(output).toContain('no drift');
    expect(output).not.toContain('lab passphrase');
  });
});

describe('a jump host', () => {
  it('reaches another host through it: that host logs the login from the jump host, and check finds no drift', async () => {
    const web = hosts.find((host) => host.roles.includes('web')) as LabHost;
    const app = hosts.find((host) => host.roles.includes('app')) as LabHost;
    const sshFromWeb = { port: 22, proto: 'tcp', from: web.address, hosts: [app.name] };
    const opened = (doc: Record<string, any>): void => {
      doc.firewall.extra_rules = [...(doc.firewall.extra_rules ?? []), sshFromWeb];
    };
    try {
      const open = await runInfra(['provision', await labInventoryVariant(opened), '--limit', app.name, '--yes'], env());
      expect(open.code, told(open)).toBe(0);
      const since = (await mustOnHost(app.address, 'date +%s')).trim();
      const jumped = await labInventoryVariant((doc) => {
        opened(doc);
        doc.hosts[app.name].ssh = { jump: `root@${web.address}` };
      });
      const check = await runInfra(['check', jumped, '--limit', app.name], env());
      expect(check.code, told(check)).toBe(0);
      const logins = await mustOnHost(app.address, `journalctl -u ssh --no-pager --since @${since} | grep 'Accepted publickey for root from' || true`);
      expect(logins).toContain(`Accepted publickey for root from ${web.address} `);
    } finally {
      const restored = await runInfra(['provision', LAB_INVENTORY, '--limit', app.name, '--yes'], env());
      expect(restored.code, told(restored)).toBe(0);
    }
  });

  it('the host sees the connection come from the jump host; a jump host with an unknown key is refused', async () => {
    const web = hosts.find((host) => host.roles.includes('web')) as LabHost;
    const inventory = await labInventoryVariant((doc) => {
      doc.hosts[web.name].ssh = { jump: `root@${web.address}` };
    });
    // The firewall guard reads the controller's address as the host sees it: through the jump
    // host, that is the jump host's, which the lab's admin_sources do not list.
    const through = await runInfra(['check', inventory, '--limit', web.name], env());
    expect(through.stdout + through.stderr).toContain(`no rule would allow SSH (port 22/tcp) from this controller (${web.address})`);

    const unknownJump = await labInventoryVariant((doc) => {
      doc.hosts[web.name].ssh = { jump: `root@${web.address}` };
    }, '');
    const refused = await runInfra(['check', unknownJump, '--limit', web.name], env());
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toContain(`through jump host root@${web.address}: ${web.address} (jump host): host key not known`);
  });
});
