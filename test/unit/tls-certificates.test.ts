import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatName, parseCertificates, parseCertificateTime, parseSubjectAltNames } from '../../src/tls/certificates.js';
import { x509 } from '../../src/tls/x509.js';
import { openssl, removeTemporaryDirs, temporaryDir } from './tls-fixture.js';

afterEach(removeTemporaryDirs);

describe("reading Node's subjectAltName text", () => {
  it('reads DNS names (wildcards too), IPv4 and IPv6 addresses and e-mail addresses, in order', () => {
    expect(parseSubjectAltNames('DNS:*.foobar.com, DNS:www.foobar.com, IP Address:10.0.0.21, IP Address:FD00:0:0:0:0:0:0:1, email:ops@foobar.com')).toEqual([
      { type: 'dns', value: '*.foobar.com' },
      { type: 'dns', value: 'www.foobar.com' },
      { type: 'ip', value: '10.0.0.21' },
      { type: 'ip', value: 'fd00::1' },
      { type: 'email', value: 'ops@foobar.com' },
    ]);
  });

  it('reads the values Node writes as JSON strings, and keeps the label of kinds infra does not use', () => {
    expect(parseSubjectAltNames('DNS:"a,b.example", URI:https://foobar.com/x, DirName:"CN=Web,O=Foo\\\\, Inc."')).toEqual([
      { type: 'dns', value: 'a,b.example' },
      { type: 'other', value: 'URI:https://foobar.com/x' },
      { type: 'other', value: 'DirName:CN=Web,O=Foo\\, Inc.' },
    ]);
  });

  it('reads no extension as no names, and refuses text it does not understand', () => {
    expect(parseSubjectAltNames(undefined)).toEqual([]);
    expect(() => parseSubjectAltNames('DNS:"unterminated')).toThrow('unexpected subjectAltName text');
  });
});

describe("formatting Node's names", () => {
  it('puts the RDNs on one line, separated by ", ", and joins a multi-valued RDN with "+"', () => {
    expect(formatName('CN=infra CA for www.foobar.com')).toBe('CN=infra CA for www.foobar.com');
    expect(formatName("C=US\nO=Let's Encrypt\nCN=R3")).toBe("C=US, O=Let's Encrypt, CN=R3");
    expect(formatName('C=US\nO=Example\\, Inc.\nOU=Web + CN=www.foobar.com')).toBe('C=US, O=Example\\, Inc., OU=Web+CN=www.foobar.com');
    expect(formatName(undefined)).toBe('');
  });
});

describe("reading Node's validity dates", () => {
  it('reads the day padded with a space, a fraction of a second, and years outside UTCTime', () => {
    expect(parseCertificateTime('Jan  2 03:04:05 2026 GMT').toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(parseCertificateTime('Nov 25 23:27:00 2026 GMT').toISOString()).toBe('2026-11-25T23:27:00.000Z');
    expect(parseCertificateTime('Feb 29 12:00:00.25 2028 GMT').toISOString()).toBe('2028-02-29T12:00:00.250Z');
    expect(parseCertificateTime('Dec 31 23:59:59 9999 GMT').toISOString()).toBe('9999-12-31T23:59:59.000Z');
    expect(parseCertificateTime('Jan  1 00:00:00 1950 GMT').toISOString()).toBe('1950-01-01T00:00:00.000Z');
  });

  it('refuses anything else', () => {
    expect(() => parseCertificateTime('2026-01-02T03:04:05Z')).toThrow('unexpected certificate time');
    expect(() => parseCertificateTime('Foo  2 03:04:05 2026 GMT')).toThrow('unexpected certificate time');
  });
});

describe('decoding a certificate openssl made', () => {
  it('agrees with @peculiar/x509 on names, dates, CA flag and subjectAltNames, and with openssl on the serial', async () => {
    const dir = await temporaryDir();
    await openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'web.key',
        '-multivalue-rdn',
        '-subj',
        '/C=US/O=Example, Inc./CN=www.foobar.com+OU=Web',
        '-addext',
        'subjectAltName=DNS:*.foobar.com,DNS:www.foobar.com,IP:10.0.0.21,IP:fd00::1',
        '-addext',
        'basicConstraints=critical,CA:FALSE',
        '-days',
        '30',
        '-out',
        'web.crt',
      ],
      dir,
    );
    const pem = await readFile(join(dir, 'web.crt'), 'utf8');
    const [certificate] = parseCertificates(`subject=printed by a tool\n${pem}`);
    const reference = new x509.X509Certificate(pem);

    expect(certificate?.subject).toBe('C=US, O=Example\\, Inc., OU=Web+CN=www.foobar.com');
    expect(certificate?.subject).toBe(reference.subject);
    expect(certificate?.issuer).toBe(reference.issuer);
    expect(certificate?.notBefore).toEqual(reference.notBefore);
    expect(certificate?.notAfter).toEqual(reference.notAfter);
    expect(`serial=${certificate?.serialNumber}\n`).toBe(await openssl(['x509', '-in', 'web.crt', '-noout', '-serial'], dir));
    expect(certificate?.isCa).toBe(false);
    expect(certificate?.subjectAltNames).toEqual([
      { type: 'dns', value: '*.foobar.com' },
      { type: 'dns', value: 'www.foobar.com' },
      { type: 'ip', value: '10.0.0.21' },
      { type: 'ip', value: 'fd00::1' },
    ]);
    expect(certificate?.subjectAltNames).toEqual(reference.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((name) => name.toJSON()));
    expect(certificate?.der.equals(Buffer.from(reference.rawData))).toBe(true);
  });

  it('gives the same object for the same PEM block, and says which block cannot be decoded', async () => {
    const dir = await temporaryDir();
    await openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'ca.key',
        '-subj',
        '/CN=Test Root',
        '-days',
        '1',
        '-out',
        'ca.crt',
      ],
      dir,
    );
    const pem = await readFile(join(dir, 'ca.crt'), 'utf8');
    expect(parseCertificates(pem)[0]).toBe(parseCertificates(`# the root\n${pem}`)[0]);
    expect(parseCertificates(pem)[0]?.isCa).toBe(true);
    expect(() => parseCertificates(`${pem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`)).toThrow(
      'PEM certificate number 2 cannot be decoded',
    );
  });
});
