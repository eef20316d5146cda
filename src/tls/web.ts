import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { Secret } from '../core/secret.js';
import type { Host, Inventory, KeyType, TlsSource } from '../inventory/model.js';
import { type CertificateAuthority, ensureCa } from './ca.js';
import {
  type Certificate,
  CLOCK_SKEW_MS,
  isSignedBy,
  matchesKey,
  parseCertificates,
  randomSerialNumber,
  sameCertificate,
  type SubjectAltName,
  toPem,
} from './certificates.js';
import { generateKey, importSigningKey, keyTypeOf, readPrivateKey } from './keys.js';
import { prepareStateSubdir, readIfPresent, replaceFile, tightenKeyMode } from './state.js';
import { type TlsProblem, verifyTlsMaterial } from './verify.js';

/** What a web host serves: the shape of `RoleSecrets.tls`, plus why a new certificate was made. */
export interface WebTlsMaterial {
  /** The leaf certificate followed by its intermediates (PEM). */
  certificateChain: string;
  key: Secret;
  /** infra's CA certificate (PEM) when infra issued the certificate. */
  caCertificate?: string;
  /** Set when this call issued a new certificate instead of reusing the stored one: the reason. */
  issuedBecause?: string;
}

export interface WebTlsOptions {
  /** Issue a new certificate even if the stored one is still good (certificate rotation). */
  forceNew?: boolean;
  /**
   * Store this pair, already issued by the current CA, as the host's certificate instead of
   * issuing one: rotate-certs issues without storing, and stores only once the host serves it.
   */
  replaceWith?: IssuedCertificate;
  /** The time to check validity against; now by default. */
  now?: Date;
}

/**
 * The certificate and key a web host serves for the inventory's domain, checked with
 * `verifyTlsMaterial` before it is returned (a problem throws `UserError` naming the file).
 *
 * With `tls.source: ca`, infra's CA issues it and it is kept in `<stateDir>/tls/<host>.crt` and
 * `<host>.key`, then served byte for byte on later runs, so that a second provision changes
 * nothing; a new one is issued when it is missing, not issued by the current CA, in the last third
 * of its lifetime, or no longer matches the names or key type the inventory asks for. With
 * `tls.source: files`, the user's files are read as they are (`forceNew` and `replaceWith` do not apply).
 */
export async function webTlsMaterial(inventory: Inventory, host: Host, options: WebTlsOptions = {}): Promise<WebTlsMaterial> {
  const now = options.now ?? new Date();
  if (inventory.tls.kind === 'files') return readUserTlsFiles(inventory.tls, inventory.domain, now);
  return fromInfraCa(inventory, inventory.tls, host, options, now);
}

export interface WebCertificateRequest {
  ca: CertificateAuthority;
  domain: string;
  host: Pick<Host, 'name' | 'address'>;
  keyType: KeyType;
  notBefore: Date;
  notAfter: Date;
}

export interface IssuedCertificate {
  certificatePem: string;
  key: Secret;
}

/**
 * A new key and a server certificate for it, signed by `ca`: subject CN=domain, subjectAltName
 * the domain, the host's name and its address, extendedKeyUsage serverAuth. Stores nothing.
 */
export async function issueWebCertificate(request: WebCertificateRequest): Promise<IssuedCertificate> {
  return issueServerCertificate({ ...request, commonName: request.domain, names: webCertificateNames(request.domain, request.host) });
}

export interface ServerCertificateRequest {
  ca: CertificateAuthority;
  commonName: string;
  names: (SubjectAltName & { type: 'dns' | 'ip' })[];
  keyType: KeyType;
  notBefore: Date;
  notAfter: Date;
}

/** A new key and a serverAuth certificate for it with these names, signed by `ca`. Stores nothing. */
export async function issueServerCertificate(request: ServerCertificateRequest): Promise<IssuedCertificate> {
  // Loaded here, not at the top: a run that only checks stored certificates never pays for it.
  const { x509 } = await import('./x509.js');
  const caDer = parseCertificates(request.ca.certificatePem)[0]?.der;
  if (!caDer) throw new Error('the CA certificate PEM holds no certificate');
  const caCertificate = new x509.X509Certificate(new Uint8Array(caDer));
  const signer = await importSigningKey(readPrivateKey(request.ca.key));
  const { pair, privateKeyPem } = await generateKey(request.keyType);
  // RSA keys may also be used for RSA key exchange by old clients; ECDSA keys only sign.
  const keyUsages =
    request.keyType === 'ecdsa-p256' ? x509.KeyUsageFlags.digitalSignature : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [request.commonName] }],
    // The CA's own encoded name, so that the issuer matches its subject byte for byte.
    issuer: caCertificate.subjectName,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    publicKey: pair.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(keyUsages, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(request.names),
      await x509.SubjectKeyIdentifierExtension.create(pair.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey),
    ],
  });
  return { certificatePem: toPem(Buffer.from(certificate.rawData)), key: privateKeyPem };
}

/** The kinds of subjectAltName a web host's certificate carries. */
export type WebCertificateName = SubjectAltName & { type: 'dns' | 'ip' };

/** The names a web host's certificate carries: the domain, the host's name, its address. */
export function webCertificateNames(domain: string, host: Pick<Host, 'name' | 'address'>): WebCertificateName[] {
  const names: WebCertificateName[] = [{ type: 'dns', value: domain }];
  if (host.name.toLowerCase() !== domain.toLowerCase()) names.push({ type: 'dns', value: host.name });
  names.push({ type: isIP(host.address) ? 'ip' : 'dns', value: host.address });
  return names;
}

// A host's name becomes a DNS subjectAltName and a file name in the state directory.
export const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

async function fromInfraCa(
  inventory: Inventory,
  tls: Extract<TlsSource, { kind: 'ca' }>,
  host: Host,
  options: WebTlsOptions,
  now: Date,
): Promise<WebTlsMaterial> {
  if (!DNS_NAME.test(host.name)) {
    throw new UserError(`host name ${JSON.stringify(host.name)} cannot go in a TLS certificate: rename the host with letters, digits, - and . only`);
  }
  const ca = await ensureCa(inventory);
  const dir = await prepareStateSubdir(inventory.stateDir, 'tls');
  const certificateFile = join(dir, `${host.name}.crt`);
  const keyFile = join(dir, `${host.name}.key`);
  const wanted: Wanted = { ca, names: webCertificateNames(inventory.domain, host), keyType: tls.keyType, now };

  const stored = await readStored(certificateFile, keyFile);
  const issuedBecause = options.replaceWith
    ? 'a rotated certificate replaced it'
    : options.forceNew
      ? 'a new certificate was asked for'
      : stored
        ? await reasonToReissue(stored, wanted)
        : 'there was none';
  let material: IssuedCertificate;
  if (stored && issuedBecause === undefined) {
    material = stored;
    await tightenKeyMode(keyFile);
  } else {
    material =
      options.replaceWith ??
      (await issueWebCertificate({
        ca,
        domain: inventory.domain,
        host,
        keyType: tls.keyType,
        notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
        notAfter: new Date(now.getTime() + tls.days * 24 * 60 * 60 * 1000),
      }));
    // The key first: if the run stops in between, the old certificate no longer matches the key
    // and the next run issues again, instead of serving a certificate for a key it lost.
    await replaceFile(keyFile, material.key.reveal(), 0o600);
    await replaceFile(certificateFile, material.certificatePem, 0o644);
  }

  const problems = await verifyTlsMaterial({
    certificateChain: material.certificatePem,
    key: material.key,
    domain: inventory.domain,
    caCertificates: [ca.certificatePem],
    now,
  });
  if (problems.length > 0) {
    const found = problems.map((problem) => problem.message).join('; ');
    throw new UserError(
      `the certificate infra issued for ${host.name} (${certificateFile}) fails its check: ${found}. ` +
        `Delete ${certificateFile} and ${keyFile} to issue a new one`,
    );
  }
  return {
    certificateChain: material.certificatePem,
    key: material.key,
    caCertificate: ca.certificatePem,
    ...(issuedBecause !== undefined ? { issuedBecause } : {}),
  };
}

export async function readStored(certificateFile: string, keyFile: string): Promise<IssuedCertificate | undefined> {
  const [certificatePem, keyPem] = await Promise.all([readIfPresent(certificateFile), readIfPresent(keyFile)]);
  if (certificatePem === undefined || keyPem === undefined) return undefined;
  return { certificatePem, key: new Secret(keyPem) };
}

export interface Wanted {
  ca: CertificateAuthority;
  /** Other CA certificates (PEM) whose certificates may still be served: the CA a rotation left. */
  alsoTrusted?: string[];
  names: WebCertificateName[];
  keyType: KeyType;
  now: Date;
}

/** Why the stored certificate cannot be served again, or undefined when it can. */
export async function reasonToReissue(stored: IssuedCertificate, wanted: Wanted): Promise<string | undefined> {
  let certificate: Certificate | undefined;
  let caCertificate: Certificate | undefined;
  try {
    [certificate] = parseCertificates(stored.certificatePem);
    [caCertificate] = parseCertificates(wanted.ca.certificatePem);
  } catch {
    return 'the stored certificate could not be read';
  }
  if (!certificate || !caCertificate) return 'the stored certificate could not be read';
  let key: KeyObject;
  try {
    key = readPrivateKey(stored.key);
  } catch {
    return 'the stored key could not be read';
  }
  const storedKeyType = keyTypeOf(key);
  if (storedKeyType !== wanted.keyType) return `the key type changed from ${storedKeyType ?? 'another type'} to ${wanted.keyType}`;
  if (!matchesKey(certificate, key)) return 'the stored certificate does not match its key';
  const trustedIssuer = (pem: string) => parseCertificates(pem).some((issuer) => isSignedBy(certificate as Certificate, issuer));
  if (!isSignedBy(certificate, caCertificate) && !(wanted.alsoTrusted ?? []).some(trustedIssuer)) return 'it was not issued by the current CA';
  const start = certificate.notBefore.getTime();
  const end = certificate.notAfter.getTime();
  if (wanted.now.getTime() < start) return 'it is not valid yet';
  if (wanted.now.getTime() >= end - (end - start) / 3) return 'it is in the last third of its lifetime';
  const comparable = (name: SubjectAltName): string => `${name.type}:${name.value.toLowerCase()}`;
  const storedNames = certificate.subjectAltNames.map(comparable).sort();
  const wantedNames = wanted.names.map(comparable).sort();
  if (storedNames.join(',') !== wantedNames.join(',')) return `its names changed to ${wanted.names.map((name) => name.value).join(', ')}`;
  return undefined;
}

async function readUserTlsFiles(tls: Extract<TlsSource, { kind: 'files' }>, domain: string, now: Date): Promise<WebTlsMaterial> {
  const leafCertificates = await readCertificateFile(tls.certFile, 'tls.cert_file');
  const chainCertificates = tls.chainFile !== undefined ? await readCertificateFile(tls.chainFile, 'tls.chain_file') : [];
  // A "fullchain" certificate file already holds the intermediates: append only what it lacks.
  const missing = chainCertificates.filter((candidate) => !leafCertificates.some((present) => sameCertificate(present, candidate)));
  const certificateChain = [...leafCertificates, ...missing].map((certificate) => toPem(certificate.der)).join('');
  const key = new Secret(await readUserFile(tls.keyFile, 'tls.key_file'));

  const problems = await verifyTlsMaterial({ certificateChain, key, domain, now });
  if (problems.length > 0) {
    const lines = problems.map((problem) => `  ${fileAtFault(problem, tls)}: ${problem.message}`);
    throw new UserError(`the TLS files for ${domain} cannot be served:\n${lines.join('\n')}`);
  }
  return { certificateChain, key };
}

function fileAtFault(problem: TlsProblem, tls: Extract<TlsSource, { kind: 'files' }>): string {
  switch (problem.kind) {
    case 'unreadable-key':
    case 'key-mismatch':
      return tls.keyFile;
    case 'chain':
      return tls.chainFile ?? tls.certFile;
    default:
      return tls.certFile;
  }
}

async function readCertificateFile(path: string, inventoryKey: string): Promise<Certificate[]> {
  const text = await readUserFile(path, inventoryKey);
  let certificates: Certificate[];
  try {
    certificates = parseCertificates(text);
  } catch (error) {
    throw new UserError(`TLS file ${path} (${inventoryKey}): ${(error as Error).message}`);
  }
  if (certificates.length === 0) {
    throw new UserError(`TLS file ${path} (${inventoryKey}) holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return certificates;
}

async function readUserFile(path: string, inventoryKey: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'unknown error'})`;
    throw new UserError(`TLS file ${path} (${inventoryKey}) ${reason}`);
  }
}
