import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAB_DIR, LAB_INVENTORY, parseReport, runInfra, told } from './helpers.js';

/**
 * State shared by a team. Starting point: the stack converged by the earlier files, with the lab
 * inventory's state kept encrypted (age) in lab/infra-state.age to the lab key. A second operator
 * has a fresh directory holding only the inventory and that committed file, and the lab key as
 * their identity: their provision renders exactly what the fleet has (the same CA, passwords and
 * keys) and changes nothing. Someone who holds none of the recipients' keys is refused before
 * anything changes.
 */
let fresh: string;

beforeAll(async () => {
  fresh = await mkdtemp(join(tmpdir(), 'infra-operator-'));
  const doc = parse(await readFile(LAB_INVENTORY, 'utf8')) as Record<string, any>;
  expect(doc.state?.file, 'the lab inventory keeps its state in a shared file').toBe('infra-state.age');
  doc.ssh = { ...doc.ssh, identity_file: join(LAB_DIR, 'id_ed25519'), known_hosts: join(LAB_DIR, 'known_hosts') };
  doc.app.source = resolve(LAB_DIR, doc.app.source);
  await writeFile(join(fresh, 'inventory.yaml'), stringify(doc));
  await copyFile(join(LAB_DIR, 'infra-state.age'), join(fresh, 'infra-state.age'));
});

describe('the shared state file', () => {
  it('holds no secret in clear', async () => {
    const committed = await readFile(join(LAB_DIR, 'infra-state.age'), 'utf8');
    expect(committed).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    const password = (await readFile(join(LAB_DIR, '.infra', 'secrets', 'db.password'), 'utf8')).trim();
    expect(committed).not.toContain(password);
    expect(committed).not.toContain(Buffer.from(password).toString('base64').slice(0, 20));
  });

  it('refuses an operator holding none of the recipients’ keys, before anything changes', async () => {
    const stranger = join(fresh, 'stranger.agekey');
    execFileSync('age-keygen', ['-o', stranger], { stdio: 'ignore' });
    const result = await runInfra(['provision', join(fresh, 'inventory.yaml'), '--yes'], { INFRA_STATE_IDENTITY: stranger });
    expect(result.code, told(result)).toBe(1);
    expect(result.stderr).toMatch(/cannot decrypt the shared state .*infra-state\.age/);
    await expect(readFile(join(fresh, '.infra', 'secrets', 'db.password'))).rejects.toThrow();
  });

  it("gives a fresh directory with the operator's identity the fleet's state: provision changes nothing", async () => {
    const result = await runInfra(['provision', join(fresh, 'inventory.yaml'), '--yes', '--json'], { INFRA_STATE_IDENTITY: join(LAB_DIR, 'id_ed25519') });
    expect(result.code, told(result)).toBe(0);
    const report = parseReport(result);
    expect(report.hosts.map((host) => [host.host, host.changed])).toEqual(report.hosts.map((host) => [host.host, 0]));
    for (const file of ['ca/ca.key', 'secrets/db.password', 'secrets/db.replication_password', 'tls/web1.key']) {
      expect(await readFile(join(fresh, '.infra', file), 'utf8'), file).toBe(await readFile(join(LAB_DIR, '.infra', file), 'utf8'));
    }
  });
});
