import type { KeyObject } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { Secret } from '../core/secret.js';
import type { Inventory, KeyType } from '../inventory/model.js';
import { CLOCK_SKEW_MS, matchesKey, parseCertificates, randomSerialNumber, toPem } from './certificates.js';
import { generateKey, readPrivateKey, signingAlgorithmFor } from './keys.js';
import { prepareStateSubdir, readIfPresent, temporaryNameFor, tightenKeyMode } from './state.js';

export interface CertificateAuthority {
  /** The CA certificate, exactly as stored in `<stateDir>/ca/ca.crt`. */
  certificatePem: string;
  key: Secret;
}

const CA_YEARS = 10;

export function caPaths(inventory: Inventory): { dir: string; certificateFile: string; keyFile: string; previousCertificateFile: string } {
  const dir = join(inventory.stateDir, 'ca');
  // The CA a rotation switched away from, still trusted until the next rotation (rotate/ca.ts).
  return { dir, certificateFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key'), previousCertificateFile: join(dir, 'ca-previous.crt') };
}

/**
 * infra's own CA, kept in `<stateDir>/ca/` (ca.crt, and ca.key 0600): made on the first call,
 * read back byte for byte on every later one, since every web certificate hangs from it.
 */
export async function ensureCa(inventory: Inventory): Promise<CertificateAuthority> {
  await prepareStateSubdir(inventory.stateDir, 'ca');
  const paths = caPaths(inventory);
  const existing = await readCa(paths);
  if (existing) return existing;

  // Only the 'ca' source names a key type; the CA is made for it, so the fallback is the default.
  const keyType: KeyType = inventory.tls.kind === 'ca' ? inventory.tls.keyType : 'ecdsa-p256';
  const created = await createCa(inventory.domain, keyType);
  // Both files are written into a fresh folder renamed into place: a concurrent run (or web hosts
  // issued in parallel) cannot end up with the certificate of one CA and the key of another,
  // because the rename fails when the other got there first, and then its CA is the one used.
  const temporaryDir = temporaryNameFor(paths.dir);
  try {
    await mkdir(temporaryDir, { mode: 0o700 });
    await writeFile(join(temporaryDir, 'ca.key'), created.key.reveal(), { mode: 0o600 });
    await writeFile(join(temporaryDir, 'ca.crt'), created.certificatePem, { mode: 0o644 });
    await rename(temporaryDir, paths.dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    const winner = await readCa(paths);
    if (winner) return winner;
    throw error;
  } finally {
    await rm(temporaryDir, { recursive: true, force: true });
  }
  return created;
}

async function createCa(domain: string, keyType: KeyType): Promise<CertificateAuthority> {
  // Loaded here, not at the top: a run that reads an existing CA never pays for it.
  const { x509 } = await import('./x509.js');
  const { pair, privateKeyPem } = await generateKey(keyType);
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_YEARS);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [`infra CA for ${domain}`] }],
    notBefore,
    notAfter,
    keys: pair,
    signingAlgorithm: signingAlgorithmFor(keyType),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(pair.publicKey),
    ],
  });
  return { certificatePem: toPem(Buffer.from(certificate.rawData)), key: privateKeyPem };
}

async function readCa(paths: ReturnType<typeof caPaths>): Promise<CertificateAuthority | undefined> {
  const [certificatePem, keyPem] = await Promise.all([readIfPresent(paths.certificateFile), readIfPresent(paths.keyFile)]);
  if (certificatePem === undefined && keyPem === undefined) return undefined;
  const restore =
    `restore it from a backup, or delete ${paths.dir} to create a new CA ` + '(every web host then gets a new certificate, and clients must trust the new CA)';
  if (certificatePem === undefined) {
    throw new UserError(`the infra CA has a key but no certificate (${paths.certificateFile} is missing): ${restore}`);
  }
  if (keyPem === undefined) {
    throw new UserError(`the infra CA has a certificate but no key (${paths.keyFile} is missing): ${restore}`);
  }
  const key = new Secret(keyPem);
  const damage = describeDamage(certificatePem, key);
  if (damage) throw new UserError(`the infra CA in ${paths.dir} is damaged: ${damage}: ${restore}`);
  await tightenKeyMode(paths.keyFile);
  return { certificatePem, key };
}

function describeDamage(certificatePem: string, key: Secret): string | undefined {
  let certificate;
  try {
    [certificate] = parseCertificates(certificatePem);
  } catch (error) {
    return `ca.crt: ${(error as Error).message}`;
  }
  if (!certificate) return 'ca.crt holds no PEM certificate';
  let privateKey: KeyObject;
  try {
    privateKey = readPrivateKey(key);
  } catch (error) {
    return `ca.key: ${(error as Error).message}`;
  }
  if (!matchesKey(certificate, privateKey)) return 'ca.crt does not match ca.key';
  return undefined;
}

/** Certificates a client trusts, one PEM block after another. */
export function trustBundle(certificates: readonly string[]): string {
  return certificates.map((pem) => `${pem.trimEnd()}\n`).join('');
}
