import { type KeyObject, randomBytes, X509Certificate } from 'node:crypto';

/**
 * A certificate as infra reads and checks it, decoded by Node's X509Certificate (OpenSSL): every
 * run reads the CA and each web host's certificate, and OpenSSL does it without loading the
 * pure-JS ASN.1 library that issuing needs.
 */
export interface Certificate {
  /** The DER encoding, byte for byte as stored. */
  der: Buffer;
  /** The subject's RDNs in encoded order, joined by ", " (e.g. "C=US, O=Let's Encrypt, CN=R3"). */
  subject: string;
  /** The issuer's name, in the same form as `subject`. */
  issuer: string;
  /** Upper-case hex, as `openssl x509 -serial` prints it. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** basicConstraints CA:TRUE, and keyUsage (when present) allows signing certificates. */
  isCa: boolean;
  subjectAltNames: SubjectAltName[];
  /** Node's decoded certificate, for checking signatures and keys. */
  nodeCertificate: X509Certificate;
}

/**
 * One subjectAltName entry. An IPv6 address is in its RFC 5952 form (lower case, zeros
 * compressed); a kind infra never uses ("other") keeps Node's label, e.g. "URI:https://a.example".
 */
export interface SubjectAltName {
  type: 'dns' | 'ip' | 'email' | 'other';
  value: string;
}

// Hosts whose clock runs a little behind the controller's must not see a certificate that is not
// valid yet, so every certificate infra issues starts an hour before it is made.
export const CLOCK_SKEW_MS = 60 * 60 * 1000;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The certificates of a PEM text, in order. Text around the blocks (the "subject=" lines some
 * tools print, comments) is skipped, as nginx skips it. Throws when a block is not a certificate.
 * A run reads the CA once per web host: each block is decoded once per process (a Certificate is
 * never modified once made).
 */
export function parseCertificates(pem: string): Certificate[] {
  return [...pem.matchAll(PEM_CERTIFICATE)].map((match, index) => {
    const block = match[0];
    let certificate = decoded.get(block);
    if (!certificate) {
      try {
        certificate = decodeCertificate(new X509Certificate(block));
      } catch {
        throw new Error(`PEM certificate number ${index + 1} cannot be decoded`);
      }
      decoded.set(block, certificate);
    }
    return certificate;
  });
}

const decoded = new Map<string, Certificate>();

function decodeCertificate(nodeCertificate: X509Certificate): Certificate {
  return {
    der: nodeCertificate.raw,
    subject: formatName(nodeCertificate.subject),
    issuer: formatName(nodeCertificate.issuer),
    serialNumber: formatSerial(nodeCertificate.serialNumber),
    notBefore: parseCertificateTime(nodeCertificate.validFrom),
    notAfter: parseCertificateTime(nodeCertificate.validTo),
    isCa: nodeCertificate.ca,
    subjectAltNames: parseSubjectAltNames(nodeCertificate.subjectAltName),
    nodeCertificate,
  };
}

/** Node prints a zero serial as "0", where openssl prints whole bytes ("00"), as for any other. */
function formatSerial(nodeSerial: string): string {
  const serial = nodeSerial.toUpperCase();
  return serial.length % 2 === 0 ? serial : `0${serial}`;
}

/**
 * Node prints a name one RDN a line ("C=US\nO=Let's Encrypt\nCN=R3") and the parts of a
 * multi-valued RDN joined by " + ", with newlines and "+" inside values escaped: infra's messages
 * show it on one line as RFC 4514 does, "C=US, O=Let's Encrypt, CN=R3" and "CN=a+OU=b".
 */
export function formatName(nodeName: string | undefined): string {
  return (nodeName ?? '')
    .split('\n')
    .filter(Boolean)
    .map((rdn) => rdn.replaceAll(' + ', '+'))
    .join(', ');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// OpenSSL's ASN1_TIME_print: "Jan  2 03:04:05 2026 GMT", with a fraction of a second when the
// certificate has one ("03:04:05.5").
const CERTIFICATE_TIME = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(\.\d+)? (\d+) GMT$/;

/** A validity date as Node prints it (`validFrom`, `validTo`); Node 20 has no Date for them. */
export function parseCertificateTime(text: string): Date {
  const match = CERTIFICATE_TIME.exec(text);
  const month = MONTHS.indexOf(match?.[1] ?? '');
  if (!match || month < 0) throw new Error(`unexpected certificate time ${JSON.stringify(text)}`);
  const [, , day, hours, minutes, seconds, fraction, year] = match;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, takes years below 100 as they are.
  date.setUTCFullYear(Number(year), month, Number(day));
  date.setUTCHours(Number(hours), Number(minutes), Number(seconds), Math.floor(Number(`0${fraction ?? ''}`) * 1000));
  return date;
}

// One entry of Node's subjectAltName text: a label, then the value as it is, or as a JSON string
// when it holds a comma, a quote or a control character (so that ", " always separates entries).
const ALT_NAME_ENTRY = /([^:,]+):("(?:[^"\\]|\\.)*"|[^",]*)(?:, |$)/y;

const ALT_NAME_TYPES: Record<string, Exclude<SubjectAltName['type'], 'other'> | undefined> = { DNS: 'dns', 'IP Address': 'ip', email: 'email' };

/** The entries of Node's subjectAltName text ("DNS:a.example, IP Address:10.0.0.1"), in order. */
export function parseSubjectAltNames(text: string | undefined): SubjectAltName[] {
  const names: SubjectAltName[] = [];
  if (!text) return names;
  ALT_NAME_ENTRY.lastIndex = 0;
  while (ALT_NAME_ENTRY.lastIndex < text.length) {
    const match = ALT_NAME_ENTRY.exec(text);
    if (!match) throw new Error(`unexpected subjectAltName text ${JSON.stringify(text)}`);
    const [, label = '', written = ''] = match;
    const value = written.startsWith('"') ? (JSON.parse(written) as string) : written;
    const type = ALT_NAME_TYPES[label];
    if (type === undefined) names.push({ type: 'other', value: `${label}:${value}` });
    else names.push({ type, value: type === 'ip' && value.includes(':') ? canonicalIpv6(value) : value });
  }
  return names;
}

/** Node prints every group of an IPv6 address ("FD00:0:0:0:0:0:0:1"); the URL parser compresses it. */
function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** A certificate as one PEM block ending in a newline: the byte form infra stores and serves. */
export function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export function sameCertificate(a: Certificate, b: Certificate): boolean {
  return a.der.equals(b.der);
}

/** True when `issuer` named and signed `child`; a signature that cannot be checked counts as not. */
export function isSignedBy(child: Certificate, issuer: Certificate): boolean {
  if (child.issuer !== issuer.subject) return false;
  try {
    return child.nodeCertificate.verify(issuer.nodeCertificate.publicKey);
  } catch {
    return false;
  }
}

/** True when `privateKey` is the private half of the certificate's public key. */
export function matchesKey(certificate: Certificate, privateKey: KeyObject): boolean {
  return certificate.nodeCertificate.checkPrivateKey(privateKey);
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
  /** DNS names, IP and e-mail addresses bare (e.g. "www.foobar.com", "10.0.0.21"); other kinds with their label ("URI:…"). */
  sans: string[];
}

/** Describes the first certificate of a PEM text (the leaf of a chain), for reports. */
export function describeCertificate(pem: string): CertificateSummary {
  const [certificate] = parseCertificates(pem);
  if (!certificate) throw new Error('no PEM certificate (-----BEGIN CERTIFICATE-----) in the text');
  return {
    serial: certificate.serialNumber,
    sha256Fingerprint: certificate.nodeCertificate.fingerprint256,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    subject: certificate.subject,
    sans: certificate.subjectAltNames.map((name) => name.value),
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
