import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { UserError } from '../core/errors.js';
import type { Host, Inventory, KeyType } from '../inventory/model.js';
import { caPaths, type CertificateAuthority, ensureCa, trustBundle } from './ca.js';
import { CLOCK_SKEW_MS } from './certificates.js';
import { prepareStateSubdir, replaceFile, tightenKeyMode } from './state.js';
import { verifyTlsMaterial } from './verify.js';
import { DNS_NAME, type IssuedCertificate, issueServerCertificate, readStored, reasonToReissue, type WebCertificateName } from './web.js';

/**
 * The certificate a db host presents to replicas and to the app. Always from infra's own CA,
 * whatever `tls.source` says: the web certificate from files is for browsers, with the site's
 * public names; db traffic stays between infra's hosts, which verify it by address against the
 * CA that infra itself ships to them, so no outside authority has to issue private addresses.
 */
export interface DbTlsMaterial {
  certificate: string;
  key: IssuedCertificate['key'];
  caCertificate: string;
  /** Set when this call issued a new certificate instead of reusing the stored one: the reason. */
  issuedBecause?: string;
}

/** What replicas and the app check: the host's name and the address they connect to. */
export function dbCertificateNames(host: Pick<Host, 'name' | 'address'>): WebCertificateName[] {
  const names: WebCertificateName[] = [{ type: 'dns', value: host.name }];
  names.push({ type: isIP(host.address) ? 'ip' : 'dns', value: host.address });
  return names;
}

/** The db certificates' key type and lifetime: the web certificates' when infra issues those. */
function dbCertificatePolicy(inventory: Inventory): { keyType: KeyType; days: number } {
  return inventory.tls.kind === 'ca' ? { keyType: inventory.tls.keyType, days: inventory.tls.days } : { keyType: 'ecdsa-p256', days: 365 };
}

/** The CA a rotation switched away from, if any: its db certificates stay valid until renewed. */
async function previousCaCertificate(inventory: Inventory): Promise<string | undefined> {
  return readFile(caPaths(inventory).previousCertificateFile, 'utf8').catch(() => undefined);
}

/**
 * What a client of a db host trusts (the app hosts, the replicas): infra's CA and the one its last
 * rotation left, so that a CA rotation neither reissues the db certificates nor restarts a server:
 * each is reissued by the new CA when it is renewed.
 */
export async function dbCaCertificate(inventory: Inventory): Promise<string> {
  const previous = await previousCaCertificate(inventory);
  return trustBundle([(await ensureCa(inventory)).certificatePem, ...(previous ? [previous] : [])]);
}

/**
 * The db host's certificate and key, kept in `<stateDir>/db-tls/<host>.crt` and `.key` and reused
 * byte for byte until it must be issued again (the same reasons as a web certificate's), or a
 * reinstalled host asks for a new one (`forceNew`).
 */
export async function dbTlsMaterial(inventory: Inventory, host: Host, options: { forceNew?: boolean; now?: Date } = {}): Promise<DbTlsMaterial> {
  const now = options.now ?? new Date();
  if (!DNS_NAME.test(host.name)) {
    throw new UserError(`host name ${JSON.stringify(host.name)} cannot go in a TLS certificate: rename the host with letters, digits, - and . only`);
  }
  const ca: CertificateAuthority = await ensureCa(inventory);
  const dir = await prepareStateSubdir(inventory.stateDir, 'db-tls');
  const certificateFile = join(dir, `${host.name}.crt`);
  const keyFile = join(dir, `${host.name}.key`);
  const { keyType, days } = dbCertificatePolicy(inventory);
  const names = dbCertificateNames(host);
  const stored = await readStored(certificateFile, keyFile);
  const previous = await previousCaCertificate(inventory);
  const alsoTrusted = previous ? [previous] : [];
  const issuedBecause = options.forceNew
    ? 'a new certificate was asked for'
    : stored
      ? await reasonToReissue(stored, { ca, alsoTrusted, names, keyType, now })
      : 'there was none';
  let material: IssuedCertificate;
  if (stored && issuedBecause === undefined) {
    material = stored;
    await tightenKeyMode(keyFile);
  } else {
    material = await issueServerCertificate({
      ca,
      commonName: host.name,
      names,
      keyType,
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(now.getTime() + days * 24 * 60 * 60 * 1000),
    });
    // The key first, as for a web certificate: a stopped run leaves a mismatch, issued again next time.
    await replaceFile(keyFile, material.key.reveal(), 0o600);
    await replaceFile(certificateFile, material.certificatePem, 0o644);
  }
  const problems = await verifyTlsMaterial({
    certificateChain: material.certificatePem,
    key: material.key,
    domain: host.name,
    caCertificates: [ca.certificatePem, ...alsoTrusted],
    now,
  });
  if (problems.length > 0) {
    throw new UserError(
      `the db certificate infra issued for ${host.name} (${certificateFile}) fails its check: ${problems.map((problem) => problem.message).join('; ')}. ` +
        `Delete ${certificateFile} and ${keyFile} to issue a new one`,
    );
  }
  return {
    certificate: material.certificatePem,
    key: material.key,
    caCertificate: trustBundle([ca.certificatePem, ...alsoTrusted]),
    ...(issuedBecause !== undefined ? { issuedBecause } : {}),
  };
}
