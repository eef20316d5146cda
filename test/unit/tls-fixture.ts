import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Inventory, KeyType } from '../../src/inventory/model.js';
import { type CertificateAuthority, type IssuedCertificate, ensureCa, issueWebCertificate } from '../../src/tls/index.js';
import { testInventory } from './roles-fixture.js';

export const DAY_MS = 24 * 60 * 60 * 1000;

const run = promisify(execFile);

/** Runs the openssl binary in `cwd` and returns what it printed. */
export async function openssl(args: string[], cwd?: string): Promise<string> {
  const { stdout } = await run('openssl', args, { cwd });
  return stdout;
}

/** Temporary folders made by a test file, removed by `removeTemporaryDirs` in its afterEach. */
const made: string[] = [];

export async function temporaryDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-tls-'));
  made.push(dir);
  return dir;
}

export async function removeTemporaryDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** The role tests' inventory (www.foobar.com, web1 at 10.0.0.21, …) with a fresh state folder. */
export async function inventoryWithState(overrides: Partial<Inventory> = {}): Promise<Inventory> {
  return testInventory({ stateDir: join(await temporaryDir(), 'state'), ...overrides });
}

/** A CA of its own, in a state folder nothing else uses. */
export async function separateCa(keyType: KeyType = 'ecdsa-p256'): Promise<CertificateAuthority> {
  return ensureCa(await inventoryWithState({ tls: { kind: 'ca', keyType, days: 90 } }));
}

/** A certificate for web1 valid from `fromDays` to `untilDays` days from `now` (negative: past). */
export async function issueForWeb1(
  ca: CertificateAuthority,
  options: { domain?: string; keyType?: KeyType; fromDays?: number; untilDays?: number; now?: Date } = {},
): Promise<IssuedCertificate> {
  const now = (options.now ?? new Date()).getTime();
  return issueWebCertificate({
    ca,
    domain: options.domain ?? 'www.foobar.com',
    host: { name: 'web1', address: '10.0.0.21' },
    keyType: options.keyType ?? 'ecdsa-p256',
    notBefore: new Date(now + (options.fromDays ?? -1) * DAY_MS),
    notAfter: new Date(now + (options.untilDays ?? 90) * DAY_MS),
  });
}
