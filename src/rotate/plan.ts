import { type CertificateSummary, describeCertificate } from '../tls/index.js';

/**
 * Which web hosts a rotation replaces the certificate of, and why: a pure function of what each
 * host serves now and the certificate it would get. Also the report shapes and their text form.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate as the report shows it (the `--json` shape). */
export interface CertificateFacts {
  /** Upper-case hex, as `openssl x509 -serial` prints it. */
  serial: string;
  /** SHA-256 of the DER, colon-separated upper-case hex, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint: string;
  /** ISO 8601. */
  notAfter: string;
}

export function certificateFacts(summary: CertificateSummary): CertificateFacts {
  return { serial: summary.serial, fingerprint: summary.sha256Fingerprint, notAfter: summary.notAfter.toISOString() };
}

/** What a web host has now, read by a handshake to its local listener and from its certificate file. */
export interface HostCertificates {
  /** The leaf nginx serves (PEM), when the handshake got one. */
  served?: string;
  /** The certificate file nginx is configured with, as it is on disk, when present. */
  deployed?: string;
}

export interface RotationCandidate {
  host: string;
  current: HostCertificates;
  /** The chain the host would serve after the rotation (PEM, leaf first). */
  nextChain: string;
}

export interface RotationDecision {
  host: string;
  rotate: boolean;
  reason: string;
  /** What the host serves (or, when no handshake answered, what its file holds); null when neither. */
  old: CertificateFacts | null;
  new: CertificateFacts;
}

export interface RotationOptions {
  /** Rotate only hosts whose current certificate expires within this many days (`--only-expiring-within`). */
  onlyExpiringWithinDays?: number;
  now: Date;
}

/** The certificate a host presents to clients: the served one, else the deployed file's leaf. */
export function currentCertificate(current: HostCertificates): CertificateSummary | undefined {
  for (const pem of [current.served, current.deployed]) {
    if (pem === undefined) continue;
    try {
      return describeCertificate(pem);
    } catch {
      // Not a readable certificate: try the next source.
    }
  }
  return undefined;
}

export function planRotation(candidates: readonly RotationCandidate[], options: RotationOptions): RotationDecision[] {
  return candidates.map((candidate) => {
    const next = describeCertificate(candidate.nextChain);
    const current = currentCertificate(candidate.current);
    const decide = (rotate: boolean, reason: string): RotationDecision => ({
      host: candidate.host,
      rotate,
      reason,
      old: current ? certificateFacts(current) : null,
      new: certificateFacts(next),
    });
    // User files that are already in place (same leaf served, same chain on disk): nothing to do.
    if (current?.sha256Fingerprint === next.sha256Fingerprint && candidate.current.deployed === candidate.nextChain) {
      return decide(false, 'already serves this certificate');
    }
    const within = options.onlyExpiringWithinDays;
    if (within === undefined) return decide(true, current ? 'rotation asked for' : 'no certificate could be read from the host');
    if (!current) return decide(true, 'no certificate could be read from the host, so its expiry is unknown');
    const expiry = describeExpiry(current.notAfter, options.now);
    const daysLeft = (current.notAfter.getTime() - options.now.getTime()) / DAY_MS;
    return daysLeft <= within ? decide(true, `${expiry}, within ${within} days`) : decide(false, `${expiry}, not within ${within} days`);
  });
}

/** "expires 2026-03-01 (in 12 days)" or "expired on 2026-03-01". */
export function describeExpiry(notAfter: Date, now: Date): string {
  const day = notAfter.toISOString().slice(0, 10);
  const left = notAfter.getTime() - now.getTime();
  return left < 0 ? `expired on ${day}` : `expires ${day} (in ${Math.floor(left / DAY_MS)} days)`;
}

/** What happened to a host, in the order of a run. */
export type HostStatus = 'rotated' | 'would-rotate' | 'skipped' | 'failed' | 'not-reached';

/** One host of the report (`--json` prints `{ ok, hosts: HostReport[] }`). */
export interface HostReport {
  host: string;
  status: HostStatus;
  /** Why the host is rotated or skipped. */
  reason: string;
  old: CertificateFacts | null;
  /**
   * The certificate the host gets. In a dry run with infra's CA only its expiry is known: the
   * certificate itself is issued when the rotation runs.
   */
  new: CertificateFacts | Pick<CertificateFacts, 'notAfter'>;
  error?: string;
}

/** The text form of a host's report: a headline, then old → new serial, fingerprint and expiry. */
export function renderHostReport(report: HostReport): string {
  const lines = [`${report.host}  ${report.status}: ${report.reason}`];
  if (report.status !== 'skipped') {
    const old = report.old;
    const next = report.new;
    const serial = 'serial' in next ? next.serial : '(issued when the rotation runs)';
    const fingerprint = 'fingerprint' in next ? next.fingerprint : '(issued when the rotation runs)';
    lines.push(
      `  serial       ${old?.serial ?? '(none)'} → ${serial}`,
      `  sha256       ${old?.fingerprint ?? '(none)'}`,
      `             → ${fingerprint}`,
      `  expires      ${old ? old.notAfter.slice(0, 10) : '(none)'} → ${next.notAfter.slice(0, 10)}`,
    );
  } else if (report.old) {
    lines.push(`  serial       ${report.old.serial}`, `  sha256       ${report.old.fingerprint}`);
  }
  if (report.error) lines.push(`  error: ${report.error.replace(/\n/g, '\n    ')}`);
  return lines.join('\n');
}

/**
 * Whether a reading taken after the reload shows the host serving `expected`; undefined when it
 * does, else what it shows instead.
 */
export function servedMismatch(reading: HostCertificates, expected: { chain: string; facts: CertificateFacts }): string | undefined {
  if (reading.served === undefined) return 'no certificate is served on the local listener (the TLS handshake failed)';
  let served: CertificateSummary;
  try {
    served = describeCertificate(reading.served);
  } catch (error) {
    return `the served certificate cannot be read: ${(error as Error).message}`;
  }
  if (served.serial !== expected.facts.serial || served.sha256Fingerprint !== expected.facts.fingerprint) {
    return `it serves serial ${served.serial} (sha256 ${served.sha256Fingerprint}), not the new serial ${expected.facts.serial} (sha256 ${expected.facts.fingerprint})`;
  }
  if (reading.deployed !== expected.chain) return 'the certificate file on the host is not the new chain';
  return undefined;
}
