import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROLES } from '../../src/inventory/model.js';
import { labStatus } from '../../src/lab/lab.js';
import {
  LAB_DIR,
  LAB_INVENTORY,
  labHosts,
  labInventoryVariant,
  mustOnHost,
  onHost,
  parseReport,
  runInfra,
  type CommandResult,
  type LabHost,
} from './helpers.js';

/**
 * A bastion brought into the running, converged lab (the earlier files leave it so; converged here
 * first when this file runs alone):
 * - `infra lab up --bastion` with the lab's own counts keeps every host as it is (running, not
 *   reset) and writes an inventory that reaches the hosts through the bastion (ssh.jump) and lets
 *   SSH in from the bastion only (firewall.admin_sources);
 * - once the firewalls let the bastion in (a provision with both the controller and the bastion as
 *   admin sources), provision and check work through the bastion with its inventory, whose
 *   firewall rules shut the controller out: infra's guard sees the bastion's address, which the
 *   rules allow. Direct SSH from the controller then times out, SSH through the bastion works.
 * At the end the lab is as the next files expect: `infra lab up` without --bastion removes it, and
 * lab/inventory.yaml (direct, controller-only SSH) is converged, check exits 0.
 */
let hosts: LabHost[];
/** `--lb 2 --web 2 … --distro bookworm --db-engine mariadb`: the running lab's, so that `lab up` keeps exactly its hosts. */
let labFlags: string[];
/** The admin sources of the lab without a bastion: the controller. */
let controllerSources: string[];
/** Marks each host's running boot: /run is emptied when a host stops or is reset. */
const BOOT_MARK = '/run/infra-e2e-57-boot';

function inventoryOf(text: string): Record<string, any> {
  return parse(text) as Record<string, any>;
}

/** Runs `command` on a lab host with OpenSSH through the bastion, every host key checked against the lab's known_hosts. */
function throughBastion(bastion: string, address: string, command: string): Promise<CommandResult> {
  const checked = [
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
  ];
  // ProxyCommand rather than -J: the options given here apply to the jump's own ssh too.
  const proxy = ['ssh', ...checked, '-W', '%h:%p', `root@${bastion}`].join(' ');
  return new Promise((resolvePromise) => {
    execFile('ssh', [...checked, '-o', `ProxyCommand=${proxy}`, `root@${address}`, command], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolvePromise({ code: error ? (typeof error.code === 'number' ? error.code : 255) : 0, stdout, stderr });
    });
  });
}

async function mustRun(args: string[]): Promise<CommandResult> {
  const result = await runInfra(args);
  expect(result.code, `infra ${args.join(' ')}\n${result.stdout}${result.stderr}`).toBe(0);
  return result;
}

/** Every host still runs the boot it had when this file started. */
async function expectSameBoots(): Promise<void> {
  const marked = await Promise.all(hosts.map(async (host) => [host.name, (await onHost(host.address, `test -e ${BOOT_MARK} && echo kept`)).stdout.trim()]));
  expect(marked).toEqual(hosts.map((host) => [host.name, 'kept']));
}

beforeAll(async () => {
  hosts = await labHosts();
  controllerSources = inventoryOf(await readFile(LAB_INVENTORY, 'utf8')).firewall.admin_sources as string[];
  const { release } = await labStatus();
  labFlags = [
    ...ROLES.flatMap((role) => [`--${role}`, String(hosts.filter((host) => host.roles.includes(role)).length)]),
    '--distro',
    release.distro,
    '--db-engine',
    release.dbEngine,
  ];
  if ((await runInfra(['check', LAB_INVENTORY])).code !== 0) await mustRun(['provision', LAB_INVENTORY, '--yes']);
  await Promise.all(hosts.map((host) => mustOnHost(host.address, `touch ${BOOT_MARK}`)));
}, 900_000);

describe('a bastion in the running lab', () => {
  let bastion: string;

  it('lab up --bastion keeps the hosts as they are and writes an inventory through the bastion, allowing SSH from it only', async () => {
    const up = await mustRun(['lab', 'up', ...labFlags, '--bastion']);
    const inventory = inventoryOf(await readFile(LAB_INVENTORY, 'utf8'));
    bastion = (inventory.ssh.jump as string).replace(/^root@/, '');
    expect(inventory.ssh.jump).toMatch(/^root@\d+\.\d+\.\d+\.5$/);
    expect(inventory.firewall.admin_sources).toEqual([`${bastion}/32`]);
    expect(inventory.monitoring.sources).not.toContain(`${bastion}/32`);
    expect(Object.keys(inventory.hosts)).toEqual(hosts.map((host) => host.name));
    expect(up.stdout).toMatch(new RegExp(`bastion +${bastion.replace(/\./g, '\\.')} +\\(jump host\\) +running`));
    expect((await readFile(join(LAB_DIR, 'known_hosts'), 'utf8')).split('\n').some((line) => line.startsWith(`${bastion} ssh-ed25519 `))).toBe(true);
    await expectSameBoots();
  });

  it('provision and check work through the bastion; direct SSH from the controller then fails, SSH through the bastion works', async () => {
    // The converged hosts let SSH in from the controller only: let the bastion in too, directly.
    await mustRun([
      'provision',
      await labInventoryVariant((doc) => {
        doc.firewall.admin_sources = [`${bastion}/32`, ...controllerSources];
        delete doc.ssh.jump;
      }),
      '--yes',
    ]);

    const provision = await runInfra(['provision', LAB_INVENTORY, '--yes', '--json']);
    const report = parseReport(provision);
    expect(report.ok, provision.stderr).toBe(true);
    // Each host's firewall drops the controller's SSH rule, through the bastion.
    expect(report.hosts.filter((host) => host.changed === 0).map((host) => host.host)).toEqual([]);
    await mustRun(['check', LAB_INVENTORY]);

    const direct = await Promise.all(hosts.map(async (host) => [host.name, (await onHost(host.address, 'true', 30_000)).code]));
    expect(direct).toEqual(hosts.map((host) => [host.name, 255]));
    const through = await Promise.all(hosts.map(async (host) => [host.name, (await throughBastion(bastion, host.address, 'hostname')).stdout.trim()]));
    expect(through).toEqual(hosts.map((host) => [host.name, host.name]));
    // sshd saw infra's logins come from the bastion.
    const [first] = hosts as [LabHost];
    const logins = await throughBastion(bastion, first.address, "journalctl -u ssh --no-pager -n 200 | grep 'Accepted publickey for root from' | tail -n 1");
    expect(logins.stdout).toContain(`from ${bastion} `);
  });

  it('leaves the lab as the next files expect: lab up without --bastion removes it, and the direct inventory converges', async () => {
    // Let the controller in again, through the bastion, before the bastion goes.
    await mustRun([
      'provision',
      await labInventoryVariant((doc) => {
        doc.firewall.admin_sources = [`${bastion}/32`, ...controllerSources];
      }),
      '--yes',
    ]);
    const up = await mustRun(['lab', 'up', ...labFlags]);
    expect(up.stdout).toContain(`removing the bastion ${bastion} (lab up without --bastion)`);
    expect(up.stdout).not.toContain('(jump host)');
    const inventory = inventoryOf(await readFile(LAB_INVENTORY, 'utf8'));
    expect(inventory.ssh.jump).toBeUndefined();
    expect(inventory.firewall.admin_sources).toEqual(controllerSources);
    await expectSameBoots();

    await mustRun(['provision', LAB_INVENTORY, '--yes']);
    await mustRun(['check', LAB_INVENTORY]);
    expect((await onHost(bastion, 'true', 30_000)).code).toBe(255);
  });
});
