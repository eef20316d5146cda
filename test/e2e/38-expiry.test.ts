import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/model.js';
import { ensureCa, issueWebCertificate } from '../../src/tls/index.js';
import { LAB_INVENTORY, runInfra, told } from './helpers.js';

/**
 * Certificates about to expire: `infra check` reports them before `infra rotate-certs` and not
 * after. Starting point: the full stack provisioned (30-stack), with infra's CA. The web hosts'
 * certificates are first replaced in infra's state by ones that expire in 10 days, and deployed.
 */
const DAY_MS = 86_400_000;
let inventory: Inventory;

beforeAll(async () => {
  const loaded = await loadInventory(LAB_INVENTORY);
  if (!loaded.ok) throw new Error('the lab inventory does not load');
  inventory = loaded.inventory;
});

describe('certificates expiring soon', () => {
  it('check reports them before the rotation and not after', async () => {
    const ca = await ensureCa(inventory);
    const now = Date.now();
    for (const host of inventory.hosts.filter((h) => h.roles.includes('web'))) {
      const issued = await issueWebCertificate({
        ca,
        domain: inventory.domain,
        host,
        keyType: 'ecdsa-p256',
        notBefore: new Date(now - 3_600_000),
        notAfter: new Date(now + 10 * DAY_MS),
      });
      await writeFile(join(inventory.stateDir, 'tls', `${host.name}.crt`), issued.certificatePem);
      const keyFile = join(inventory.stateDir, 'tls', `${host.name}.key`);
      await writeFile(keyFile, issued.key.reveal(), { mode: 0o600 });
      await chmod(keyFile, 0o600);
    }
    const deploy = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(deploy.code, told(deploy)).toBe(0);

    const before = await runInfra(['check', LAB_INVENTORY]);
    expect(before.code, before.stdout).toBe(2);
    expect(before.stdout.match(/web: certificate: certificate expires in (9|10) days \(.*\), within 21/g)).toHaveLength(2);
    expect(before.stdout).toMatch(/^web1\s+drifted \(1\)$/m);
    expect(before.stdout).toMatch(/^web2\s+drifted \(1\)$/m);

    const rotation = await runInfra(['rotate-certs', LAB_INVENTORY, '--only-expiring-within', '21', '--yes']);
    expect(rotation.code, told(rotation)).toBe(0);

    const after = await runInfra(['check', LAB_INVENTORY]);
    expect(after.code, after.stdout).toBe(0);
    expect(after.stdout).toMatch(/^no drift/m);
  });
});
