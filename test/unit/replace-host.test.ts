import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { resolveRoleSecrets } from '../../src/engine/secrets.js';
import { selectHosts, selectReplacedHosts } from '../../src/engine/select.js';
import { loadInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/model.js';
import { describeHostKeyFailure, type ConnectionTarget } from '../../src/transport/ssh.js';
import { hostOf } from './roles-fixture.js';
import { inventoryWithState, removeTemporaryDirs } from './tls-fixture.js';
import { infraInProcess } from './cli-in-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLE = join(ROOT, 'inventory.example.yaml');

async function exampleInventory(): Promise<Inventory> {
  const loaded = await loadInventory(EXAMPLE);
  if (!loaded.ok) throw new Error('inventory.example.yaml does not load');
  return loaded.inventory;
}

afterEach(async () => {
  process.exitCode = undefined;
  await removeTemporaryDirs();
});

describe('--replace-host names hosts of the run', () => {
  it('takes host names, repeated or comma separated', async () => {
    const inventory = await exampleInventory();
    expect([...selectReplacedHosts(inventory, inventory.hosts, ['web2', 'app1,db2'])]).toEqual(['web2', 'app1', 'db2']);
    expect(selectReplacedHosts(inventory, inventory.hosts, undefined).size).toBe(0);
  });

  it('refuses a name that is no host of the inventory, a role or group included', async () => {
    const inventory = await exampleInventory();
    for (const word of ['web9', 'web', 'frontends']) {
      expect(() => selectReplacedHosts(inventory, inventory.hosts, [word])).toThrow(UserError);
    }
    expect(() => selectReplacedHosts(inventory, inventory.hosts, ['web9'])).toThrow(
      /--replace-host web9: no host of that name in the inventory \(hosts: lb1, lb2, web1, web2/,
    );
  });

  it('refuses a host left out by --limit: a host taken back is provisioned in the same run', async () => {
    const inventory = await exampleInventory();
    const selected = selectHosts(inventory, ['web']);
    expect(() => selectReplacedHosts(inventory, selected, ['app1'])).toThrow(/--replace-host app1: app1 is outside --limit/);
    expect([...selectReplacedHosts(inventory, selected, ['web1'])]).toEqual(['web1']);
  });

  it('infra provision exits 1 before connecting to any host, known_hosts untouched', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infra-rh-'));
    const inventory = join(dir, 'inventory.yaml');
    await writeFile(inventory, (await readFile(EXAMPLE, 'utf8')).replace(/^state_dir: .*$/m, `state_dir: ${join(dir, '.infra')}`));
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, '# nothing yet\n');
    const result = await infraInProcess('provision', inventory, '--replace-host', 'web9', '--yes');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^infra: --replace-host web9: no host of that name in the inventory .*; nothing was changed$/m);
    expect(await readFile(knownHosts, 'utf8')).toBe('# nothing yet\n');
  });

  it('is not an option of check, which never changes anything (known_hosts included)', async () => {
    const result = await infraInProcess('check', EXAMPLE, '--replace-host', 'web2');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/unknown option '--replace-host'/);
  });
});

describe('what a refused host key tells the operator', () => {
  const target: ConnectionTarget = {
    host: 'web2',
    address: '10.0.0.22',
    port: 22,
    user: 'root',
    identityFile: '/k',
    knownHostsFile: '/inv/known_hosts',
    connectTimeoutSeconds: 10,
  };
  const mismatch = { ok: false as const, reason: 'mismatch' as const, pinned: false, expected: ['SHA256:old'], offered: 'SHA256:new' };

  it('a changed key of a host not named: both fingerprints, and --replace-host NAME as the fix', () => {
    expect(describeHostKeyFailure(target, { acceptNewHostKeys: false, replaceHostKey: false }, mismatch)).toBe(
      'HOST KEY MISMATCH: expected SHA256:old, offered SHA256:new. The host may have been reinstalled or someone may be intercepting ' +
        "the connection; check the offered key on the host's console, then if it was reinstalled, provision it with --replace-host web2, " +
        'which replaces its key in /inv/known_hosts',
    );
  });

  it('a pinned key that changed: the inventory is the fix, named or not', () => {
    const pinned = { ...mismatch, pinned: true };
    expect(describeHostKeyFailure({ ...target, fingerprint: 'SHA256:old' }, { acceptNewHostKeys: false, replaceHostKey: false }, pinned)).toMatch(
      /HOST KEY MISMATCH: expected SHA256:old, offered SHA256:new\. .* fix ssh\.host_key in the inventory$/,
    );
    const named = describeHostKeyFailure({ ...target, fingerprint: 'SHA256:old' }, { acceptNewHostKeys: false, replaceHostKey: true }, pinned);
    expect(named).toMatch(/pinned in the inventory \(ssh\.host_key\), which --replace-host does not override: .* set web2's ssh\.host_key to it$/);
  });

  it('a named host with no recorded key: a first contact, for --accept-new-host-keys', () => {
    const text = describeHostKeyFailure(target, { acceptNewHostKeys: false, replaceHostKey: true }, { ok: false, reason: 'unknown', offered: 'SHA256:new' });
    expect(text).toMatch(
      /^host key not known \(offered SHA256:new\); --replace-host replaces a recorded key, and there is none for web2: .*--accept-new-host-keys/,
    );
  });
});

describe('what infra keeps about a reinstalled host', () => {
  it('a web host taken back gets a new certificate and key, kept for the runs after it', async () => {
    const inventory = await inventoryWithState();
    const web1 = hostOf(inventory, 'web1');
    const before = await resolveRoleSecrets(inventory, web1);
    expect((await resolveRoleSecrets(inventory, web1)).tls?.certificateChain).toBe(before.tls?.certificateChain);

    const taken = await resolveRoleSecrets(inventory, web1, { reinstalled: true });
    expect(taken.tls?.certificateChain).not.toBe(before.tls?.certificateChain);
    expect(taken.tls?.key.reveal()).not.toBe(before.tls?.key.reveal());
    expect((await resolveRoleSecrets(inventory, web1)).tls?.certificateChain).toBe(taken.tls?.certificateChain);
  });
});
