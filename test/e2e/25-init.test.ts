import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labReset } from '../../src/lab/lab.js';
import { buildCli, KEY, Terminal } from '../unit/init-cli.js';
import { LAB_DIR, ROOT, labHosts, runInfra, type LabHost, told } from './helpers.js';
import { getSite } from './load.js';

/**
 * An operator's first day: `infra init` on a terminal, answered as a person would for the lab's
 * eight hosts, writes an inventory that provisions the bare lab into the whole stack. The
 * inventory and its state (CA, secrets) live in a folder of their own, apart from lab/.
 */
const { enter, down, space } = KEY;
const DOMAIN = 'shop.lab.test';
const VIP = '10.77.0.100';
const ROLE_KEYS: Record<string, string[]> = {
  lb: [space],
  web: [down, space],
  app: [down, down, space],
  db: [down, down, down, space],
};

let hosts: LabHost[];
let dir: string;
let inventoryFile: string;

beforeAll(async () => {
  buildCli();
  await labReset({});
  hosts = await labHosts();
  dir = await mkdtemp(join(LAB_DIR, 'init-'));
  inventoryFile = join(dir, 'site.yaml');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('an inventory written by the init wizard', () => {
  it('is written from answers typed on a terminal, with the suggested admin source and infra CA taken as offered', async () => {
    const term = new Terminal(['init', 'site.yaml'], { cwd: dir });
    await term.answer("The site's public name", DOMAIN, enter);
    for (const [index, host] of hosts.entries()) {
      await term.answer('Host name:', host.name, enter);
      await term.answer(`Address of ${host.name}:`, host.address, enter);
      await term.answer(`Roles of ${host.name}:`, ...host.roles.flatMap((role) => ROLE_KEYS[role] ?? []), enter);
      await term.answer('Add another host?', index === hosts.length - 1 ? 'n' : 'y', enter);
    }
    await term.answer('SSH user on the hosts:', enter);
    await term.answer('SSH private key file:', join(LAB_DIR, 'id_ed25519'), enter);
    await term.answer('known_hosts file', join(LAB_DIR, 'known_hosts'), enter);
    await term.answer("Prefix length of the hosts' subnet:", enter);
    await term.answer('VIP', VIP, enter);
    // Inside an nspawn host the interface is host0, not the offered eth0.
    await term.answer('Network interface of the lb hosts', 'host0', enter);
    await term.answer('Database primary', enter);
    await term.answer('Who may reach SSH', enter);
    await term.answer('Who may scrape the exporters', enter);
    await term.answer('TLS certificates for the web hosts:', enter);
    await term.answer('Application folder', join(ROOT, 'examples', 'app'), enter);
    await term.waitFor('wrote site.yaml');
    expect(await term.exitCode()).toBe(0);

    const text = await readFile(inventoryFile, 'utf8');
    expect(text).toContain('admin_sources: [10.77.0.1/32]');
    expect(text).toContain('source: ca');
    const validate = await runInfra(['validate', inventoryFile]);
    expect(validate.code, told(validate)).toBe(0);
  }, 120_000);

  it('provisions the bare lab into the whole stack, and the site answers through the VIP', async () => {
    const result = await runInfra(['provision', inventoryFile, '--yes']);
    expect(result.code, told(result)).toBe(0);
    expect(result.stdout).toContain(`DNS: publish ${DOMAIN}. A ${VIP}`);
    const ca = await readFile(join(dir, '.infra', 'ca', 'ca.crt'), 'utf8');
    const answer = await getSite({ address: VIP, domain: DOMAIN, ca });
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.body) as { app_host: string }).app_host).toMatch(/^app[12]$/);
  });

  it('with --quiet, a second provision and a check print nothing and exit 0: nothing needs attention', async () => {
    const provision = await runInfra(['provision', inventoryFile, '--yes', '--quiet']);
    expect(provision).toEqual({ code: 0, stdout: '', stderr: '' });
    const check = await runInfra(['check', inventoryFile, '--quiet']);
    expect(check).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});
