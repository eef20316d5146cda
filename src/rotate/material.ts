import { UserError } from '../core/errors.js';
import type { Host, Inventory } from '../inventory/model.js';
import type { RoleSecrets } from '../roles/secrets.js';
import { CLOCK_SKEW_MS } from '../tls/certificates.js';
import { type CertificateAuthority, type IssuedCertificate, issueWebCertificate, verifyTlsMaterial, webTlsMaterial } from '../tls/index.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The certificate a web host is to serve after the rotation. */
export interface RotationMaterial {
  /** What the web role renders the host's TLS files from. */
  tls: NonNullable<RoleSecrets['tls']>;
  /** With infra's CA: the pair to store in the state directory once the host serves it. */
  issued?: IssuedCertificate;
}

/**
 * The new certificate of every given web host, each checked as a client would check it (key
 * matches, chain leads to the CA, the domain is covered, within its dates) before any host is
 * touched. Nothing is stored: with infra's CA, `issuer` signs a fresh certificate per host (SANs:
 * the domain, the host's name and address); with `tls.source: files`, the user's files are read.
 * Any problem throws a UserError naming the host or file and the problem.
 */
export async function newMaterial(
  inventory: Inventory,
  hosts: readonly Host[],
  issuer: CertificateAuthority | undefined,
  now: Date,
): Promise<Map<string, RotationMaterial>> {
  const refusal = (detail: string) => new UserError(`refusing to rotate; nothing was changed on any host:\n${detail}`);
  const materials = new Map<string, RotationMaterial>();
  const tls = inventory.tls;
  if (tls.kind === 'files') {
    // Every web host serves the same files: webTlsMaterial reads and checks them once.
    let files;
    try {
      files = await webTlsMaterial(inventory, hosts[0] as Host, { now });
    } catch (error) {
      if (error instanceof UserError) throw refusal(error.message);
      throw error;
    }
    for (const host of hosts) materials.set(host.name, { tls: { certificateChain: files.certificateChain, key: files.key } });
    return materials;
  }
  if (!issuer) throw new Error("infra's CA source needs the CA that issues the new certificates");
  const problems: string[] = [];
  for (const host of hosts) {
    const issued = await issueWebCertificate({
      ca: issuer,
      domain: inventory.domain,
      host,
      keyType: tls.keyType,
      // The same validity webTlsMaterial gives the certificates it issues.
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(now.getTime() + tls.days * DAY_MS),
    });
    const found = await verifyTlsMaterial({
      certificateChain: issued.certificatePem,
      key: issued.key,
      domain: inventory.domain,
      caCertificates: [issuer.certificatePem],
      now,
    });
    problems.push(...found.map((problem) => `  ${host.name}: ${problem.message}`));
    materials.set(host.name, {
      tls: { certificateChain: issued.certificatePem, key: issued.key, caCertificate: issuer.certificatePem },
      issued,
    });
  }
  if (problems.length > 0) throw refusal(problems.join('\n'));
  return materials;
}
