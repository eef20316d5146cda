/**
 * The lab, end to end, against the hosts booted by lab-setup.ts: every host in
 * lab/inventory.yaml answers SSH with its host key verified, is a booted systemd, has its own
 * hostname, installs offline from the lab repo, lets `ops` sudo with the password only, and the
 * CLI reports and re-ups the lab without changing it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Command } from 'commander';
import { registerLab } from '../../src/cli/commands/lab.js';
import { setHostNetwork } from '../../src/lab/lab.js';
import { subnetFromEnv } from '../../src/lab/paths.js';
import { vipAddress } from '../../src/lab/plan.js';
import { allRolePackages } from '../../src/roles/packages.js';

const LAB = resolve('lab');
const KNOWN_HOSTS = join(LAB, 'known_hosts');

interface InventoryHost {
  address: string;
  roles: string[];
}
let hosts: [string, InventoryHost][] = [];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sshArgs(knownHosts: string): string[] {
  return [
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=5',
    '-i',
    join(LAB, 'id_ed25519'),
  ];
}

/** Runs a command on a host over ssh; `input` goes to the remote command's stdin. */
function ssh(target: string, command: string, opts: { input?: string; knownHosts?: string } = {}): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('ssh', [...sshArgs(opts.knownHosts ?? KNOWN_HOSTS), target, command], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Runs `infra lab …` in this process through the lab's commander commands, on a root program with
 * main.ts's global `--json` (so option parsing is as in the CLI), capturing what it prints.
 * Built from registerLab alone so this spec of the lab does not depend on the rest of the CLI.
 */
async function infra(...args: string[]): Promise<{ code: number; stdout: string }> {
  const program = new Command('infra').option('--json').exitOverride();
  registerLab(program);
  let stdout = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'infra', ...args]);
    return { code: 0, stdout };
  } finally {
    process.stdout.write = write;
  }
}

beforeAll(async () => {
  const inventory = parse(await readFile(join(LAB, 'inventory.yaml'), 'utf8')) as { hosts: Record<string, InventoryHost> };
  hosts = Object.entries(inventory.hosts);
});

describe('lab hosts (default lab: 8 hosts)', () => {
  it('lab/inventory.yaml lists lb1 lb2 web1 web2 app1 app2 db1 db2', () => {
    expect(hosts.map(([name]) => name)).toEqual(['lb1', 'lb2', 'web1', 'web2', 'app1', 'app2', 'db1', 'db2']);
  });

  it('every host answers root SSH by key with its host key verified, is a booted systemd, and has its own hostname', async () => {
    const results = await Promise.all(
      hosts.map(async ([name, h]) => ({
        name,
        r: await ssh(`root@${h.address}`, 'systemctl is-system-running --wait; hostname; id -u'),
      })),
    );
    for (const { name, r } of results) {
      expect(r.code === 0 || r.stdout.startsWith('degraded'), `${name}: ${r.stderr}`).toBe(true);
      const [state, hostname, uid] = r.stdout.trim().split('\n');
      expect(['running', 'degraded'], `${name} system state`).toContain(state);
      expect(hostname).toBe(name);
      expect(uid).toBe('0');
    }
  });

  it('the non-root user ops needs a password for sudo, and with it (over stdin) becomes root', async () => {
    const password = (await readFile(join(LAB, 'ops-password'), 'utf8')).split('\n')[0]!;
    const inventorySudo = parse(await readFile(join(LAB, 'inventory-sudo.yaml'), 'utf8')) as { ssh: Record<string, unknown> };
    expect(inventorySudo.ssh).toMatchObject({ user: 'ops', sudo: { password: 'file:./ops-password' } });
    const results = await Promise.all(
      hosts.map(async ([name, h]) => ({
        name,
        withPassword: await ssh(`ops@${h.address}`, "sudo -S -p '' id -u", { input: `${password}\n` }),
        without: await ssh(`ops@${h.address}`, 'id -u; sudo -n id -u'),
        wrong: await ssh(`ops@${h.address}`, "sudo -S -p '' id -u", { input: 'not-the-password\n' }),
      })),
    );
    for (const { name, withPassword, without, wrong } of results) {
      expect(withPassword.stdout.trim(), `${name}: ${withPassword.stderr}`).toBe('0');
      expect(without.stdout.trim(), name).not.toBe('0');
      expect(without.code, `${name}: sudo -n must fail`).not.toBe(0);
      expect(without.stderr, name).toMatch(/password is required/);
      expect(wrong.code, `${name}: a wrong password must fail`).not.toBe(0);
    }
  });

  it('refuses a host whose key does not match known_hosts (host-key verification is on)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lab-known-hosts-'));
    try {
      const [, web1] = hosts.find(([n]) => n === 'web1')!;
      const [, web2] = hosts.find(([n]) => n === 'web2')!;
      // web1's address paired with web2's keys: what a man in the middle would present.
      const lines = (await readFile(KNOWN_HOSTS, 'utf8')).split('\n').filter((l) => l.startsWith(`${web2.address} `));
      expect(lines.length).toBeGreaterThan(0);
      const wrong = join(dir, 'known_hosts');
      await writeFile(wrong, lines.map((l) => l.replace(`${web2.address} `, `${web1.address} `)).join('\n') + '\n');
      const r = await ssh(`root@${web1.address}`, 'true', { knownHosts: wrong });
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
      // And the right file still works: the refusal is about the key, not the connection.
      expect((await ssh(`root@${web1.address}`, 'true')).code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('apt on a host has only the lab repository and installs every role package from it offline', async () => {
    const [, h] = hosts[0]!;
    const r = await ssh(
      `root@${h.address}`,
      `cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -v '^#' | grep -v '^$'; ` +
        `apt-get update -q >/dev/null && apt-get install -s -q ${allRolePackages().join(' ')} >/dev/null && echo APT-OK`,
    );
    expect(r.stdout.trim().split('\n'), r.stderr).toEqual(['deb [trusted=yes] file:/srv/infra-repo ./', 'APT-OK']);
  });
});

describe('cutting a host off the network (setHostNetwork)', () => {
  it('a host whose link is down is unreachable, and reachable again once it is up', async () => {
    const [name, h] = hosts.find(([n]) => n === 'app2')!;
    await setHostNetwork(name, 'down');
    try {
      const cut = await ssh(`root@${h.address}`, 'true');
      expect(cut.code).toBe(255);
      expect(cut.stderr).toMatch(/timed out|No route to host|unreachable/i);
    } finally {
      await setHostNetwork(name, 'up');
    }
    const back = await ssh(`root@${h.address}`, 'hostname');
    expect(back.stdout.trim(), back.stderr).toBe(name);
  });

  it('names a host that has no link in the error', async () => {
    await expect(setHostNetwork('web9', 'down')).rejects.toThrow(/web9.*vb-ilab-web9/);
  });
});

describe('infra lab status and a second up', () => {
  it('status --json lists 8 running hosts with their roles, and the VIP', async () => {
    const { code, stdout } = await infra('lab', 'status', '--json');
    expect(code).toBe(0);
    const status = JSON.parse(stdout) as {
      subnet: string;
      vip: string;
      hosts: { name: string; address: string; roles: string[]; state: string; machine: string }[];
    };
    expect(status.subnet).toBe(subnetFromEnv().cidr);
    expect(status.vip).toBe(vipAddress(subnetFromEnv()));
    expect(status.hosts).toHaveLength(8);
    for (const [name, h] of hosts) {
      expect(status.hosts.find((s) => s.name === name)).toEqual({ name, address: h.address, roles: h.roles, state: 'running', machine: `ilab-${name}` });
    }
  });

  it('lab up a second time changes nothing: same hosts, same host keys, not rebooted, still reachable', async () => {
    const before = {
      inventory: await readFile(join(LAB, 'inventory.yaml'), 'utf8'),
      knownHosts: await readFile(KNOWN_HOSTS, 'utf8'),
    };
    // A file in /run (tmpfs) disappears if a host reboots.
    await Promise.all(hosts.map(([, h]) => ssh(`root@${h.address}`, 'touch /run/lab-test-not-rebooted')));
    const { code } = await infra('lab', 'up');
    expect(code).toBe(0);
    expect(await readFile(join(LAB, 'inventory.yaml'), 'utf8')).toBe(before.inventory);
    expect(await readFile(KNOWN_HOSTS, 'utf8')).toBe(before.knownHosts);
    const results = await Promise.all(
      hosts.map(async ([name, h]) => ({ name, r: await ssh(`root@${h.address}`, 'test -e /run/lab-test-not-rebooted && hostname') })),
    );
    for (const { name, r } of results) {
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe(name);
    }
  });
});
