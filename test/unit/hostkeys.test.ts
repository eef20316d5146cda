import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprintOf, keysForHost, verifyHostKey } from '../../src/transport/hostkeys.js';

function fakeKey(type = 'ssh-ed25519'): Buffer {
  const name = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(name.length);
  return Buffer.concat([len, name, randomBytes(36)]);
}

describe('known_hosts', () => {
  const key = fakeKey();
  it('finds keys by plain name, [address]:port and hashed name', () => {
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('10.0.0.5').digest('base64')}`;
    const text = [
      `10.0.0.1 ssh-ed25519 ${key.toString('base64')}`,
      `[10.0.0.2]:2222 ssh-ed25519 ${key.toString('base64')}`,
      `${hashed} ssh-ed25519 ${key.toString('base64')}`,
      '# comment',
    ].join('\n');
    expect(keysForHost(text, '10.0.0.1', 22)).toHaveLength(1);
    expect(keysForHost(text, '10.0.0.2', 2222)).toHaveLength(1);
    expect(keysForHost(text, '10.0.0.2', 22)).toHaveLength(0);
    expect(keysForHost(text, '10.0.0.5', 22)).toHaveLength(1);
  });

  it('accepts the recorded key, refuses another with both fingerprints, and refuses an unknown host', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infra-kh-'));
    const file = join(dir, 'known_hosts');
    await writeFile(file, `10.0.0.1 ssh-ed25519 ${key.toString('base64')}\n`);
    const policy = { address: '10.0.0.1', port: 22, knownHostsFile: file, acceptNew: false };
    expect(await verifyHostKey(policy, key)).toEqual({ ok: true });
    const other = fakeKey();
    expect(await verifyHostKey(policy, other)).toEqual({ ok: false, reason: 'mismatch', expected: [fingerprintOf(key)], offered: fingerprintOf(other) });
    expect(await verifyHostKey({ ...policy, address: '10.0.0.9' }, other)).toEqual({ ok: false, reason: 'unknown', offered: fingerprintOf(other) });
  });

  it('records a new host with accept-new, and then holds it to that key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infra-kh-'));
    const file = join(dir, 'known_hosts');
    const policy = { address: '10.0.0.3', port: 22, knownHostsFile: file, acceptNew: true };
    expect(await verifyHostKey(policy, key)).toEqual({ ok: true });
    expect(await readFile(file, 'utf8')).toBe(`10.0.0.3 ssh-ed25519 ${key.toString('base64')}\n`);
    expect((await verifyHostKey(policy, fakeKey())).ok).toBe(false);
  });

  it('checks a pinned fingerprint first', async () => {
    expect(await verifyHostKey({ address: 'x', port: 22, fingerprint: fingerprintOf(key), acceptNew: false }, key)).toEqual({ ok: true });
    expect((await verifyHostKey({ address: 'x', port: 22, fingerprint: 'SHA256:nope', acceptNew: true }, key)).ok).toBe(false);
  });
});
