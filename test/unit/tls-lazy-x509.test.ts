import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveRoleSecrets } from '../../src/engine/secrets.js';
import { hostOf } from './roles-fixture.js';
import { inventoryWithState, openssl, removeTemporaryDirs, temporaryDir } from './tls-fixture.js';

// Loading @peculiar/x509 (and reflect-metadata, tsyringe, asn1js…) costs a run hundreds of
// milliseconds of CPU: only issuing may load it. The mock passes the real module through and
// notes when something loads it.
const loaded = vi.hoisted(() => ({ peculiar: false }));
vi.mock('@peculiar/x509', async (importOriginal) => {
  loaded.peculiar = true;
  return importOriginal();
});

afterEach(removeTemporaryDirs);

/** An infra state folder whose CA and web1 certificate openssl made, as infra would have issued them. */
async function stateMadeByOpenssl(stateDir: string): Promise<void> {
  const dir = await temporaryDir();
  const newKey = ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  await openssl([...newKey, '-out', 'ca.key'], dir);
  await openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=infra CA for www.foobar.com', '-days', '3650', '-out', 'ca.crt'], dir);
  await openssl([...newKey, '-out', 'web1.key'], dir);
  await openssl(['req', '-new', '-key', 'web1.key', '-subj', '/CN=www.foobar.com', '-out', 'web1.csr'], dir);
  await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=DNS:www.foobar.com,DNS:web1,IP:10.0.0.21\nextendedKeyUsage=serverAuth\n');
  await openssl(
    ['x509', '-req', '-in', 'web1.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '90', '-extfile', 'ext.cnf', '-out', 'web1.crt'],
    dir,
  );
  await mkdir(join(stateDir, 'ca'), { recursive: true });
  await mkdir(join(stateDir, 'tls'), { recursive: true });
  await openssl(['x509', '-in', join(dir, 'ca.crt'), '-out', join(stateDir, 'ca', 'ca.crt')]);
  await openssl(['pkey', '-in', join(dir, 'ca.key'), '-out', join(stateDir, 'ca', 'ca.key')]);
  await openssl(['x509', '-in', join(dir, 'web1.crt'), '-out', join(stateDir, 'tls', 'web1.crt')]);
  await openssl(['pkey', '-in', join(dir, 'web1.key'), '-out', join(stateDir, 'tls', 'web1.key')]);
}

// The tests run in order in this file's own module registry: the first must see nothing loaded.
describe('@peculiar/x509 is loaded only to issue', () => {
  it('is not loaded by a run that serves the stored certificate of a web host', async () => {
    const inventory = await inventoryWithState();
    await stateMadeByOpenssl(inventory.stateDir);

    const secrets = await resolveRoleSecrets(inventory, hostOf(inventory, 'web1'));

    expect(secrets.tls?.certificateChain).toBe(await readFile(join(inventory.stateDir, 'tls', 'web1.crt'), 'utf8'));
    expect(loaded.peculiar).toBe(false);
  });

  it('is loaded by a run that issues a certificate (the check above would see it)', async () => {
    const inventory = await inventoryWithState();

    const secrets = await resolveRoleSecrets(inventory, hostOf(inventory, 'web1'));

    expect(secrets.tls?.caCertificate).toBe(await readFile(join(inventory.stateDir, 'ca', 'ca.crt'), 'utf8'));
    expect(loaded.peculiar).toBe(true);
  });
});
