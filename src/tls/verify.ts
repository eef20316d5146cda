import type { KeyObject } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type { Secret } from '../core/secret.js';
import { type Certificate, formatDay, formatMinute, isSignedBy, matchesKey, parseCertificates, sameCertificate } from './certificates.js';
import { readPrivateKey } from './keys.js';

/**
 * What is wrong, by kind, so that a caller can say which file is at fault (the key file for a key
 * problem, the chain file for a chain problem, the certificate file otherwise).
 */
export type TlsProblemKind = 'unreadable-certificate' | 'unreadable-key' | 'key-mismatch' | 'chain' | 'name' | 'expired' | 'not-yet-valid';

export interface TlsProblem {
  kind: TlsProblemKind;
  message: string;
}

export interface TlsMaterialToVerify {
  /** The leaf certificate followed by its intermediates (PEM). */
  certificateChain: string;
  key: Secret;
  /** The name clients ask for: the leaf must cover it. */
  domain: string;
  /**
   * The CAs the chain must lead to (PEM). Without them the chain must end in a self-signed root or
   * in a certificate issued by a CA this machine trusts (Node's bundled Mozilla list).
   */
  caCertificates?: string[];
  now?: Date;
}

/**
 * Checks a certificate chain and its key the way a client would before trusting them: the key
 * belongs to the leaf, each certificate is signed by the next and the last by a trusted CA, the
 * leaf names the domain, and every certificate is within its dates. Returns every problem found
 * (none when the material is good), so that one run reports them all.
 */
export async function verifyTlsMaterial(material: TlsMaterialToVerify): Promise<TlsProblem[]> {
  const now = material.now ?? new Date();
  let chain: Certificate[];
  try {
    chain = parseCertificates(material.certificateChain);
  } catch (error) {
    return [{ kind: 'unreadable-certificate', message: (error as Error).message }];
  }
  const [leaf] = chain;
  if (!leaf) return [{ kind: 'unreadable-certificate', message: 'no PEM certificate (-----BEGIN CERTIFICATE-----) found' }];

  const problems: TlsProblem[] = [];
  const keyProblem = checkKey(leaf, material.key);
  if (keyProblem) problems.push(keyProblem);

  let anchors: Certificate[] | undefined;
  try {
    anchors = material.caCertificates?.flatMap((pem) => parseCertificates(pem));
  } catch (error) {
    problems.push({ kind: 'unreadable-certificate', message: `the CA certificate cannot be read: ${(error as Error).message}` });
    return problems;
  }
  const { problems: chainProblems, anchor } = checkChain(chain, anchors);
  problems.push(...chainProblems);

  const nameProblem = checkName(leaf, material.domain);
  if (nameProblem) problems.push(nameProblem);

  chain.forEach((certificate, index) => {
    problems.push(...checkDates(certificate, index === 0 ? 'certificate' : `certificate ${certificate.subject}`, now));
  });
  // A CA given apart from the chain must be valid too; one inside the chain was checked above.
  if (anchor && !chain.some((certificate) => sameCertificate(certificate, anchor))) {
    problems.push(...checkDates(anchor, `CA certificate ${anchor.subject}`, now));
  }
  return problems;
}

function checkKey(leaf: Certificate, key: Secret): TlsProblem | undefined {
  let privateKey: KeyObject;
  try {
    privateKey = readPrivateKey(key);
  } catch (error) {
    return { kind: 'unreadable-key', message: `the key cannot be read: ${(error as Error).message}` };
  }
  if (!matchesKey(leaf, privateKey)) {
    return { kind: 'key-mismatch', message: 'certificate does not match its key' };
  }
  return undefined;
}

function checkChain(chain: Certificate[], anchors: Certificate[] | undefined): { problems: TlsProblem[]; anchor?: Certificate } {
  const problems: TlsProblem[] = [];
  for (let index = 0; index + 1 < chain.length; index++) {
    const child = chain[index] as Certificate;
    const issuer = chain[index + 1] as Certificate;
    if (!isSignedBy(child, issuer)) {
      problems.push({ kind: 'chain', message: `chain broken: ${child.subject} is not signed by ${issuer.subject}` });
    } else if (!issuer.isCa && !isSignedBy(issuer, issuer)) {
      problems.push({ kind: 'chain', message: `chain broken: ${issuer.subject} signs ${child.subject} but is not a CA certificate` });
    }
  }

  const last = chain[chain.length - 1] as Certificate;
  if (anchors) {
    for (const anchor of anchors) {
      if (sameCertificate(last, anchor) || isSignedBy(last, anchor)) return { problems, anchor };
    }
    const names = anchors.map((anchor) => anchor.subject).join(' or ') || 'any given CA';
    problems.push({ kind: 'chain', message: `chain broken: ${last.subject} is not signed by ${names}` });
    return { problems };
  }

  if (isSignedBy(last, last)) return { problems };
  for (const root of trustedRoots()) {
    if (isSignedBy(last, root)) return { problems, anchor: root };
  }
  problems.push({
    kind: 'chain',
    message:
      `chain incomplete: ${last.subject} is issued by ${last.issuer}, which is neither in the chain nor a CA this machine trusts ` +
      '(append the intermediate certificates after the certificate)',
  });
  return { problems };
}

let mozillaRoots: Certificate[] | undefined;

function trustedRoots(): Certificate[] {
  mozillaRoots ??= rootCertificates.flatMap((pem) => parseCertificates(pem));
  return mozillaRoots;
}

function checkName(leaf: Certificate, domain: string): TlsProblem | undefined {
  const dnsNames = leaf.subjectAltNames.filter((name) => name.type === 'dns').map((name) => name.value);
  if (dnsNames.some((name) => covers(name, domain))) return undefined;
  const covered = dnsNames.length > 0 ? `it covers: ${dnsNames.join(', ')}` : `it has no DNS subjectAltName, and clients ignore its subject ${leaf.subject}`;
  return { kind: 'name', message: `certificate does not cover ${domain} (${covered})` };
}

/** Exact match, or a wildcard standing for exactly one leftmost label, case-insensitively. */
export function covers(certificateName: string, domain: string): boolean {
  const name = certificateName.toLowerCase();
  const wanted = domain.toLowerCase();
  if (name === wanted) return true;
  if (!name.startsWith('*.')) return false;
  const firstDot = wanted.indexOf('.');
  return firstDot > 0 && wanted.slice(firstDot) === name.slice(1);
}

function checkDates(certificate: Certificate, what: string, now: Date): TlsProblem[] {
  if (now.getTime() > certificate.notAfter.getTime()) {
    return [{ kind: 'expired', message: `${what} expired on ${formatDay(certificate.notAfter)}` }];
  }
  if (now.getTime() < certificate.notBefore.getTime()) {
    return [{ kind: 'not-yet-valid', message: `${what} is not valid yet (valid from ${formatMinute(certificate.notBefore)})` }];
  }
  return [];
}
