import { createHash, randomBytes, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { x509 } from './x509.js';

export type Certificate = x509.X509Certificate;

// Hosts whose clock runs a little behind the controller's must not see a certificate that is not
// valid yet, so every certificate infra issues starts an hour before it is made.
export const CLOCK_SKEW_MS = 60 * 60 * 1000;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The certificates of a PEM text, in order. Text around the blocks (the "subject=" lines some
 * tools print, comments) is skipped, as nginx skips it. Throws when a block is not a certificate.
 * Decoding is pure JS and costs milliseconds per certificate, and a run reads the CA once per web
 * host: each block is decoded once per process (certificates are never modified once parsed).
 */
export function parseCertificates(pem: string): Certificate[] {
  return [...pem.matchAll(PEM_CERTIFICATE)].map((match, index) => {
    const block = match[0];
    let certificate = decoded.get(block);
    if (!certificate) {
      try {
        certificate = new x509.X509Certificate(block);
      } catch {
        throw new Error(`PEM certificate number ${index + 1} cannot be decoded`);
      }
      decoded.set(block, certificate);
    }
    return certificate;
  });
}

const decoded = new Map<string, Certificate>();

/** A certificate as one PEM block ending in a newline: the byte form infra stores and serves. */
export function toPem(certificate: Certificate): string {
  return `${certificate.toString('pem').trimEnd()}\n`;
}

export function sameCertificate(a: Certificate, b: Certificate): boolean {
  return Buffer.from(a.rawData).equals(Buffer.from(b.rawData));
}

/**
 * True when `issuer` named and signed `child`; a signature that cannot be checked counts as not.
 * The signature is checked by Node's own X509Certificate (OpenSSL): every run checks each web
 * host's certificate, and the pure-JS check through WebCrypto key imports cost tens of
 * milliseconds per certificate.
 */
export function isSignedBy(child: Certificate, issuer: Certificate): boolean {
  if (child.issuer !== issuer.subject) return false;
  try {
    return new NodeX509Certificate(Buffer.from(child.rawData)).verify(new NodeX509Certificate(Buffer.from(issuer.rawData)).publicKey);
  } catch {
    return false;
  }
}

export function isCaCertificate(certificate: Certificate): boolean {
  return certificate.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

/** The subjectAltName entries, as `{type, value}` with type "dns", "ip", "email", …. */
export function subjectAltNames(certificate: Certificate): x509.JsonGeneralName[] {
  const extension = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  return extension ? extension.names.items.map((name) => name.toJSON()) : [];
}

/**
 * A random serial: 16 bytes with the top bit clear so that it is positive, and the next bit set
 * so that DER keeps all 16 bytes (no leading zero byte to drop). 126 random bits remain.
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

export interface CertificateSummary {
  /** Upper-case hex, as `openssl x509 -serial` prints it. */
  serial: string;
  /** Colon-separated upper-case hex, as `openssl x509 -fingerprint -sha256` prints it. */
  sha256Fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  subject: string;
  /** DNS names and IP addresses, bare (e.g. "www.foobar.com", "10.0.0.21"). */
  sans: string[];
}

/** Describes the first certificate of a PEM text (the leaf of a chain), for reports. */
export function describeCertificate(pem: string): CertificateSummary {
  const [certificate] = parseCertificates(pem);
  if (!certificate) throw new Error('no PEM certificate (-----BEGIN CERTIFICATE-----) in the text');
  const digest = createHash('sha256').update(Buffer.from(certificate.rawData)).digest('hex').toUpperCase();
  return {
    serial: certificate.serialNumber.toUpperCase(),
    sha256Fingerprint: digest.match(/../g)?.join(':') ?? '',
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    subject: certificate.subject,
    sans: subjectAltNames(certificate).map((name) => name.value),
  };
}

/** "2026-01-02": the day, enough for an expiry. */
export function formatDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** "2026-01-02 13:04 UTC": a start date is usually hours away, so the time matters. */
export function formatMinute(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
