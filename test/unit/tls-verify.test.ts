import { webcrypto } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { type CertificateAuthority, verifyTlsMaterial } from '../../src/tls/index.js';
import { covers } from '../../src/tls/verify.js';
import { x509 } from '../../src/tls/x509.js';
import { DAY_MS, issueForWeb1, removeTemporaryDirs, separateCa } from './tls-fixture.js';

afterEach(removeTemporaryDirs);

const DOMAIN = 'www.foobar.com';

/** An intermediate CA under `root` (or, with `isCa: false`, a plain certificate posing as one). */
async function intermediateUnder(root: CertificateAuthority, isCa = true): Promise<CertificateAuthority> {
  const rootCertificate = new x509.X509Certificate(root.certificatePem);
  const rootKey = await webcrypto.subtle.importKey(
    'pkcs8',
    Buffer.from(root.key.reveal().replace(/-----[^-]+-----|\s/g, ''), 'base64'),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const pair = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: '01',
    subject: 'CN=Intermediate',
    issuer: rootCertificate.subjectName,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 365 * DAY_MS),
    publicKey: pair.publicKey,
    signingKey: rootKey,
    signingAlgorithm: algorithm,
    extensions: [new x509.BasicConstraintsExtension(isCa, undefined, true)],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey)).toString('base64');
  return {
    certificatePem: `${certificate.toString('pem')}\n`,
    key: new Secret(`-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n`),
  };
}

describe('verifyTlsMaterial', () => {
  it('finds nothing wrong with a current certificate, its own key and its CA', async () => {
    const ca = await separateCa();
    const issued = await issueForWeb1(ca);
    const problems = await verifyTlsMaterial({
      certificateChain: issued.certificatePem,
      key: issued.key,
      domain: DOMAIN,
      caCertificates: [ca.certificatePem],
    });
    expect(problems).toEqual([]);
  });

  it('catches a key that belongs to another certificate', async () => {
    const ca = await separateCa();
    const [issued, other] = await Promise.all([issueForWeb1(ca), issueForWeb1(ca)]);
    const problems = await verifyTlsMaterial({
      certificateChain: issued.certificatePem,
      key: other.key,
      domain: DOMAIN,
      caCertificates: [ca.certificatePem],
    });
    expect(problems).toEqual([{ kind: 'key-mismatch', message: 'certificate does not match its key' }]);
  });

  it('says why a key cannot be read, without quoting it', async () => {
    const ca = await separateCa();
    const issued = await issueForWeb1(ca);
    const problems = await verifyTlsMaterial({
      certificateChain: issued.certificatePem,
      key: new Secret('-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5-SECRET-TEXT\n-----END PRIVATE KEY-----\n'),
      domain: DOMAIN,
      caCertificates: [ca.certificatePem],
    });
    expect(problems).toEqual([{ kind: 'unreadable-key', message: 'the key cannot be read: it is not a PEM private key' }]);
  });

  it('catches an expired certificate (valid 100 to 10 days ago), naming the day', async () => {
    const ca = await separateCa();
    const now = new Date();
    const issued = await issueForWeb1(ca, { now, fromDays: -100, untilDays: -10 });
    const endDay = new Date(now.getTime() - 10 * DAY_MS).toISOString().slice(0, 10);
    const problems = await verifyTlsMaterial({
      certificateChain: issued.certificatePem,
      key: issued.key,
      domain: DOMAIN,
      caCertificates: [ca.certificatePem],
      now,
    });
    expect(problems).toEqual([{ kind: 'expired', message: `certificate expired on ${endDay}` }]);
  });

  it('catches a certificate that is not valid yet (from 2 days ahead)', async () => {
    const ca = await separateCa();
    // Whole seconds: a certificate's dates have no milliseconds.
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const issued = await issueForWeb1(ca, { now, fromDays: 2, untilDays: 90 });
    const startMinute = new Date(now.getTime() + 2 * DAY_MS).toISOString().slice(0, 16).replace('T', ' ');
    const problems = await verifyTlsMaterial({
      certificateChain: issued.certificatePem,
      key: issued.key,
      domain: DOMAIN,
      caCertificates: [ca.certificatePem],
      now,
    });
    expect(problems).toEqual([{ kind: 'not-yet-valid', message: `certificate is not valid yet (valid from ${startMinute} UTC)` }]);
  });

  it('catches a certificate for another name, listing the names it has', async () => {
    const ca = await separateCa();
    const issued = await issueForWeb1(ca, { domain: 'a.example' });
    const problems = await verifyTlsMaterial({
      certificateChain: issued.certificatePem,
      key: issued.key,
      domain: DOMAIN,
      caCertificates: [ca.certificatePem],
    });
    expect(problems).toEqual([{ kind: 'name', message: 'certificate does not cover www.foobar.com (it covers: a.example, web1)' }]);
  });

  it('catches a certificate signed by another CA than the one given', async () => {
    const [ca, otherCa] = await Promise.all([separateCa(), separateCa()]);
    const issued = await issueForWeb1(otherCa);
    const problems = await verifyTlsMaterial({
      certificateChain: issued.certificatePem,
      key: issued.key,
      domain: DOMAIN,
      caCertificates: [ca.certificatePem],
    });
    // Both CAs are named for the same domain: only the signature tells them apart.
    expect(problems).toEqual([{ kind: 'chain', message: 'chain broken: CN=www.foobar.com is not signed by CN=infra CA for www.foobar.com' }]);
  });

  it('follows leaf → intermediate → given root, and catches an intermediate from another CA', async () => {
    const [root, otherRoot] = await Promise.all([separateCa(), separateCa()]);
    const intermediate = await intermediateUnder(root);
    const issued = await issueForWeb1(intermediate);
    const chain = issued.certificatePem + intermediate.certificatePem;

    expect(await verifyTlsMaterial({ certificateChain: chain, key: issued.key, domain: DOMAIN, caCertificates: [root.certificatePem] })).toEqual([]);

    const strangerIntermediate = await intermediateUnder(otherRoot);
    const broken = issued.certificatePem + strangerIntermediate.certificatePem;
    expect(await verifyTlsMaterial({ certificateChain: broken, key: issued.key, domain: DOMAIN, caCertificates: [root.certificatePem] })).toEqual([
      { kind: 'chain', message: 'chain broken: CN=www.foobar.com is not signed by CN=Intermediate' },
      { kind: 'chain', message: 'chain broken: CN=Intermediate is not signed by CN=infra CA for www.foobar.com' },
    ]);
  });

  it('refuses an intermediate that is not a CA certificate', async () => {
    const root = await separateCa();
    const notCa = await intermediateUnder(root, false);
    const issued = await issueForWeb1(notCa);
    const problems = await verifyTlsMaterial({
      certificateChain: issued.certificatePem + notCa.certificatePem,
      key: issued.key,
      domain: DOMAIN,
      caCertificates: [root.certificatePem],
    });
    expect(problems).toEqual([{ kind: 'chain', message: 'chain broken: CN=Intermediate signs CN=www.foobar.com but is not a CA certificate' }]);
  });

  it('without given CAs, accepts a chain ending in its self-signed root and reports one that stops short', async () => {
    const root = await separateCa();
    const issued = await issueForWeb1(root);
    expect(await verifyTlsMaterial({ certificateChain: issued.certificatePem + root.certificatePem, key: issued.key, domain: DOMAIN })).toEqual([]);
    expect(await verifyTlsMaterial({ certificateChain: issued.certificatePem, key: issued.key, domain: DOMAIN })).toEqual([
      {
        kind: 'chain',
        message:
          'chain incomplete: CN=www.foobar.com is issued by CN=infra CA for www.foobar.com, which is neither in the chain nor a CA this machine trusts ' +
          '(append the intermediate certificates after the certificate)',
      },
    ]);
  });

  it('reports every problem at once: wrong key, wrong CA, wrong name, expired', async () => {
    const [ca, otherCa] = await Promise.all([separateCa(), separateCa()]);
    const issued = await issueForWeb1(otherCa, { domain: 'a.example', fromDays: -30, untilDays: -1 });
    const stranger = await issueForWeb1(ca);
    const problems = await verifyTlsMaterial({
      certificateChain: issued.certificatePem,
      key: stranger.key,
      domain: DOMAIN,
      caCertificates: [ca.certificatePem],
    });
    expect(problems.map((problem) => problem.kind)).toEqual(['key-mismatch', 'chain', 'name', 'expired']);
  });

  it('reports a chain with no certificate in it', async () => {
    const problems = await verifyTlsMaterial({ certificateChain: 'hello', key: new Secret('x'), domain: DOMAIN });
    expect(problems).toEqual([{ kind: 'unreadable-certificate', message: 'no PEM certificate (-----BEGIN CERTIFICATE-----) found' }]);
  });
});

describe('covers', () => {
  it('matches the exact name (any case) or a wildcard for one leftmost label only', () => {
    expect(covers('www.foobar.com', 'WWW.foobar.com')).toBe(true);
    expect(covers('*.foobar.com', 'www.foobar.com')).toBe(true);
    expect(covers('*.foobar.com', 'foobar.com')).toBe(false);
    expect(covers('*.foobar.com', 'a.www.foobar.com')).toBe(false);
    expect(covers('*.example.com', 'www.foobar.com')).toBe(false);
    expect(covers('foobar.com', 'www.foobar.com')).toBe(false);
  });
});
