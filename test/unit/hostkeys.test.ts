import { createHmac, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decideHostKey,
  describeReplacement,
  fingerprintOf,
  keysForHost,
  replaceHostLines,
  verifyHostKey,
  type HostKeyVerdict,
  type KnownKey,
} from '../../src/transport/hostkeys.js';
import { describeHostKeyFailure, type ConnectionTarget } from '../../src/transport/ssh.js';

function fakeKey(type = 'ssh-ed25519'): Buffer {
  const name = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(name.length);
  return Buffer.concat([len, name, randomBytes(36)]);
}

function hashedName(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

async function tempKnownHosts(text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'infra-kh-')), 'known_hosts');
  await writeFile(file, text);
  return file;
}

describe('known_hosts', () => {
  const key = fakeKey();
  it('finds keys by plain name, [address]:port and hashed name', () => {
    const text = [
      `10.0.0.1 ssh-ed25519 ${key.toString('base64')}`,
      `[10.0.0.2]:2222 ssh-ed25519 ${key.toString('base64')}`,
      `${hashedName('10.0.0.5')} ssh-ed25519 ${key.toString('base64')}`,
      '# comment',
    ].join('\n');
    expect(keysForHost(text, '10.0.0.1', 22).known).toHaveLength(1);
    expect(keysForHost(text, '10.0.0.2', 2222).known).toHaveLength(1);
    expect(keysForHost(text, '10.0.0.2', 22).known).toHaveLength(0);
    expect(keysForHost(text, '10.0.0.5', 22).known).toHaveLength(1);
  });

  it('accepts the recorded key, refuses another with both fingerprints, and refuses an unknown host', async () => {
    const file = await tempKnownHosts(`10.0.0.1 ssh-ed25519 ${key.toString('base64')}\n`);
    const policy = { address: '10.0.0.1', port: 22, knownHostsFile: file, acceptNew: false, replace: false };
    expect(await verifyHostKey(policy, key)).toEqual({ ok: true, outcome: 'known', offered: fingerprintOf(key) });
    const other = fakeKey();
    expect(await verifyHostKey(policy, other)).toEqual({
      ok: false,
      reason: 'mismatch',
      pinned: false,
      expected: [fingerprintOf(key)],
      offered: fingerprintOf(other),
    });
    expect(await verifyHostKey({ ...policy, address: '10.0.0.9' }, other)).toEqual({ ok: false, reason: 'unknown', offered: fingerprintOf(other) });
  });

  it('records a new host with accept-new, and then holds it to that key', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'infra-kh-')), 'known_hosts');
    const policy = { address: '10.0.0.3', port: 22, knownHostsFile: file, acceptNew: true, replace: false };
    expect(await verifyHostKey(policy, key)).toEqual({ ok: true, outcome: 'recorded', offered: fingerprintOf(key) });
    expect(await readFile(file, 'utf8')).toBe(`10.0.0.3 ssh-ed25519 ${key.toString('base64')}\n`);
    expect((await verifyHostKey(policy, fakeKey())).ok).toBe(false);
  });

  it('checks a pinned fingerprint first', async () => {
    expect(await verifyHostKey({ address: 'x', port: 22, fingerprint: fingerprintOf(key), acceptNew: false, replace: false }, key)).toMatchObject({ ok: true });
    expect((await verifyHostKey({ address: 'x', port: 22, fingerprint: 'SHA256:nope', acceptNew: true, replace: false }, key)).ok).toBe(false);
  });
});

/**
 * Whether a host's offered key is taken: whether the operator named the host (--replace-host) ×
 * what known_hosts holds for it (nothing, the offered key, another key) × a fingerprint pinned in
 * the inventory (none, the offered one, another one), with and without --accept-new-host-keys.
 */
describe('the host key decision', () => {
  const offered = fakeKey();
  const old = fakeKey();
  const knownAs = { none: [], match: [offered], mismatch: [old] } satisfies Record<string, Buffer[]>;
  const pinAs = { none: undefined, match: fingerprintOf(offered), mismatch: fingerprintOf(old) };
  type Expected = 'known' | 'recorded' | 'replaced' | 'refused: unknown' | 'refused: known_hosts mismatch' | 'refused: pinned mismatch';
  const summary = (verdict: HostKeyVerdict): Expected => {
    if (verdict.ok) return verdict.outcome;
    if (verdict.reason === 'unknown') return 'refused: unknown';
    if (verdict.reason === 'revoked') throw new Error('nothing is revoked in this table');
    return verdict.pinned ? 'refused: pinned mismatch' : 'refused: known_hosts mismatch';
  };
  const table: [pin: keyof typeof pinAs, knownHosts: keyof typeof knownAs, named: boolean, acceptNew: boolean, expected: Expected][] = [
    // Nothing pinned: known_hosts decides.
    ['none', 'none', false, false, 'refused: unknown'],
    ['none', 'none', false, true, 'recorded'],
    // Naming a host replaces a recorded key; a first contact still needs --accept-new-host-keys.
    ['none', 'none', true, false, 'refused: unknown'],
    ['none', 'none', true, true, 'recorded'],
    ['none', 'match', false, false, 'known'],
    ['none', 'match', true, false, 'known'],
    ['none', 'mismatch', false, false, 'refused: known_hosts mismatch'],
    ['none', 'mismatch', false, true, 'refused: known_hosts mismatch'],
    ['none', 'mismatch', true, false, 'replaced'],
    ['none', 'mismatch', true, true, 'replaced'],
    // A pin is the inventory's word: it wins over known_hosts, and no flag overrides it.
    ['match', 'none', false, false, 'known'],
    ['match', 'none', true, false, 'known'],
    ['match', 'mismatch', true, false, 'known'],
    ['mismatch', 'none', false, false, 'refused: pinned mismatch'],
    ['mismatch', 'none', true, true, 'refused: pinned mismatch'],
    ['mismatch', 'match', false, false, 'refused: pinned mismatch'],
    ['mismatch', 'match', true, false, 'refused: pinned mismatch'],
    ['mismatch', 'mismatch', true, true, 'refused: pinned mismatch'],
  ];
  it.each(table)('pin %s, known_hosts %s, named %s, accept-new %s: %s', (pin, knownHosts, named, acceptNew, expected) => {
    const known: KnownKey[] = knownAs[knownHosts].map((blob) => ({ type: 'ssh-ed25519', blob }));
    const verdict = decideHostKey({ offered, pinned: pinAs[pin], known: pin === 'none' ? known : [], canRecord: true, acceptNew, replace: named });
    expect(summary(verdict)).toBe(expected);
  });

  it('names the old and the new fingerprint of a replaced key', () => {
    const verdict = decideHostKey({ offered, known: [{ type: 'ssh-ed25519', blob: old }], canRecord: true, acceptNew: false, replace: true });
    expect(verdict).toEqual({ ok: true, outcome: 'replaced', previous: [fingerprintOf(old)], offered: fingerprintOf(offered) });
    if (!verdict.ok) throw new Error('expected the key to be taken');
    expect(describeReplacement('web2', verdict)).toBe(`web2: host key replaced (old ${fingerprintOf(old)} → new ${fingerprintOf(offered)})`);
    expect(describeReplacement('web2', { ok: true, outcome: 'known', offered: fingerprintOf(offered) })).toBe(
      `web2: host key unchanged (${fingerprintOf(offered)})`,
    );
  });
});

describe('replacing a host in known_hosts', () => {
  const oldEd = fakeKey();
  const oldRsa = fakeKey('ssh-rsa');
  const other = fakeKey();
  const fresh = fakeKey();
  const line = (name: string, key: Buffer, type = 'ssh-ed25519'): string => `${name} ${type} ${key.toString('base64')}`;
  const newLine = (name: string): string => line(name, fresh);

  it('takes out every key of the host and puts the new one where the first stood; comments and other hosts stay byte for byte', () => {
    const text = [
      '# lab hosts',
      line('10.0.0.1', other),
      line('10.0.0.2', oldEd),
      '',
      `10.0.0.2   ssh-rsa   ${oldRsa.toString('base64')}   old comment`,
      line('10.0.0.20', other),
      line('[10.0.0.2]:2222', other),
      '  # indented comment with 10.0.0.2 in it',
      '',
    ].join('\n');
    expect(replaceHostLines(text, '10.0.0.2', 22, newLine)).toBe(
      [
        '# lab hosts',
        line('10.0.0.1', other),
        newLine('10.0.0.2'),
        '',
        line('10.0.0.20', other),
        line('[10.0.0.2]:2222', other),
        '  # indented comment with 10.0.0.2 in it',
        '',
      ].join('\n'),
    );
  });

  it('matches [address]:port for another port, and only it', () => {
    const text = [line('10.0.0.2', other), line('[10.0.0.2]:2222', oldEd), ''].join('\n');
    expect(replaceHostLines(text, '10.0.0.2', 2222, newLine)).toBe([line('10.0.0.2', other), newLine('[10.0.0.2]:2222'), ''].join('\n'));
  });

  it('replaces a hashed entry with a hashed line under a new salt, leaving hashed entries of other hosts', () => {
    const otherHashed = line(hashedName('10.0.0.9'), other);
    const text = [otherHashed, line(hashedName('10.0.0.2'), oldEd), ''].join('\n');
    const result = replaceHostLines(text, '10.0.0.2', 22, newLine);
    const lines = result.split('\n');
    expect(lines[0]).toBe(otherHashed);
    expect(lines[1]).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    expect(lines[1]).not.toBe(text.split('\n')[1]);
    expect(lines).toHaveLength(3);
    expect(keysForHost(result, '10.0.0.2', 22).known).toEqual([{ type: 'ssh-ed25519', blob: fresh }]);
    expect(keysForHost(result, '10.0.0.9', 22).known).toEqual([{ type: 'ssh-ed25519', blob: other }]);
  });

  it('removes a line that lists the host among other names (its key is the old one), like ssh-keygen -R', () => {
    const text = [line('web2.example,10.0.0.2', oldEd), line('10.0.0.1', other)].join('\n');
    expect(replaceHostLines(text, '10.0.0.2', 22, newLine)).toBe([newLine('10.0.0.2'), line('10.0.0.1', other), ''].join('\n'));
  });

  it('keeps marker lines (@cert-authority, @revoked) and a name that only starts like the address', () => {
    const text = [`@cert-authority 10.0.0.2 ${line('', other).trim()}`, line('10.0.0.22', other), line('10.0.0.2', oldEd), ''].join('\n');
    expect(replaceHostLines(text, '10.0.0.2', 22, newLine)).toBe([text.split('\n')[0], line('10.0.0.22', other), newLine('10.0.0.2'), ''].join('\n'));
  });

  it('verifyHostKey with the host named rewrites the file atomically with its mode kept, and the next run knows the new key', async () => {
    const text = ['# kept', line('10.0.0.1', other), line('10.0.0.2', oldEd), line('10.0.0.2', oldRsa, 'ssh-rsa'), line('10.0.0.3', other), ''].join('\n');
    const file = await tempKnownHosts(text);
    await chmod(file, 0o640);
    const policy = { address: '10.0.0.2', port: 22, knownHostsFile: file, acceptNew: false, replace: true };
    expect(await verifyHostKey(policy, fresh)).toEqual({
      ok: true,
      outcome: 'replaced',
      previous: [fingerprintOf(oldEd), fingerprintOf(oldRsa)],
      offered: fingerprintOf(fresh),
    });
    expect(await readFile(file, 'utf8')).toBe(['# kept', line('10.0.0.1', other), newLine('10.0.0.2'), line('10.0.0.3', other), ''].join('\n'));
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(join(file, '..'))).toEqual(['known_hosts']);
    expect(await verifyHostKey({ ...policy, replace: false }, fresh)).toMatchObject({ ok: true, outcome: 'known' });
  });

  it('loses no line when several named hosts of one file are replaced at once', async () => {
    const hosts = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];
    const file = await tempKnownHosts(hosts.map((address) => line(address, oldEd) + '\n').join(''));
    const offered = hosts.map(() => fakeKey());
    const verdicts = await Promise.all(
      hosts.map((address, i) => verifyHostKey({ address, port: 22, knownHostsFile: file, acceptNew: false, replace: true }, offered[i] as Buffer)),
    );
    expect(verdicts.map((verdict) => verdict.ok && verdict.outcome)).toEqual(hosts.map(() => 'replaced'));
    const text = await readFile(file, 'utf8');
    hosts.forEach((address, i) => expect(keysForHost(text, address, 22).known).toEqual([{ type: 'ssh-ed25519', blob: offered[i] }]));
  });

  it('leaves the file untouched when the named host offers its recorded key', async () => {
    const text = `${line('10.0.0.2', oldEd)}\n${line('10.0.0.1', other)}`;
    const file = await tempKnownHosts(text);
    const before = await stat(file);
    expect(await verifyHostKey({ address: '10.0.0.2', port: 22, knownHostsFile: file, acceptNew: false, replace: true }, oldEd)).toMatchObject({
      ok: true,
      outcome: 'known',
    });
    expect(await readFile(file, 'utf8')).toBe(text);
    expect((await stat(file)).ino).toBe(before.ino);
  });
});

describe('known_hosts host patterns, as ssh reads them', () => {
  const key = fakeKey();
  const b64 = key.toString('base64');
  it('wildcards * and ?, negation with !, and [address]:port with a wildcard', () => {
    const text = [`10.0.0.* ssh-ed25519 ${b64}`, `!10.0.1.9,10.0.1.? ssh-ed25519 ${b64}`, `[10.0.2.*]:2222 ssh-ed25519 ${b64}`].join('\n');
    expect(keysForHost(text, '10.0.0.200', 22).known).toHaveLength(1);
    expect(keysForHost(text, '10.0.1.5', 22).known).toHaveLength(1);
    expect(keysForHost(text, '10.0.1.9', 22).known).toHaveLength(0);
    expect(keysForHost(text, '10.0.1.50', 22).known).toHaveLength(0);
    expect(keysForHost(text, '10.0.2.7', 2222).known).toHaveLength(1);
    expect(keysForHost(text, '10.0.2.7', 22).known).toHaveLength(0);
    // A dot is a dot, not any character.
    expect(keysForHost(`10.0.0.1 ssh-ed25519 ${b64}`, '10.0.011', 22).known).toHaveLength(0);
  });

  it('sorts lines by marker: plain, @revoked (with its line), @cert-authority; an unknown marker is ignored, as ssh does', () => {
    const revoked = fakeKey();
    const ca = fakeKey();
    const text = [
      `10.0.0.2 ssh-ed25519 ${b64}`,
      `@revoked * ssh-ed25519 ${revoked.toString('base64')}`,
      `@cert-authority 10.0.0.* ssh-ed25519 ${ca.toString('base64')}`,
      `@future 10.0.0.2 ssh-ed25519 ${fakeKey().toString('base64')}`,
    ].join('\n');
    expect(keysForHost(text, '10.0.0.2', 22)).toEqual({
      known: [{ type: 'ssh-ed25519', blob: key }],
      revoked: [{ type: 'ssh-ed25519', blob: revoked, line: 2 }],
      authorities: [{ type: 'ssh-ed25519', blob: ca }],
    });
    expect(keysForHost(text, '192.0.2.1', 22)).toEqual({ known: [], revoked: [{ type: 'ssh-ed25519', blob: revoked, line: 2 }], authorities: [] });
  });
});

describe('@revoked keys are refused', () => {
  const leaked = fakeKey();
  const line = (name: string, key: Buffer, marker = ''): string => `${marker}${marker ? ' ' : ''}${name} ssh-ed25519 ${key.toString('base64')}`;

  it('even when another line lists the key as known, when it is pinned, and with --replace-host and --accept-new-host-keys', async () => {
    // known_hosts: 10.0.0.2 with the leaked key on line 1, the same key revoked for every host on line 3.
    const file = await tempKnownHosts([line('10.0.0.2', leaked), '# withdrawn after the incident', line('*', leaked, '@revoked'), ''].join('\n'));
    const policy = { address: '10.0.0.2', port: 22, knownHostsFile: file, acceptNew: false, replace: false };
    const refused = { ok: false, reason: 'revoked', offered: fingerprintOf(leaked), line: 3 };
    expect(await verifyHostKey(policy, leaked)).toEqual(refused);
    expect(await verifyHostKey({ ...policy, fingerprint: fingerprintOf(leaked) }, leaked)).toEqual(refused);
    expect(await verifyHostKey({ ...policy, acceptNew: true, replace: true }, leaked)).toEqual(refused);
    expect(await verifyHostKey({ ...policy, address: '10.0.0.77', acceptNew: true }, leaked)).toEqual(refused);
    // Nothing was recorded or rewritten.
    expect(keysForHost(await readFile(file, 'utf8'), '10.0.0.77', 22).known).toEqual([]);
  });

  it('only the revoked key: another key of the host is judged as before', async () => {
    const current = fakeKey();
    const file = await tempKnownHosts([line('10.0.0.2', current), line('10.0.0.2', leaked, '@revoked'), ''].join('\n'));
    const policy = { address: '10.0.0.2', port: 22, knownHostsFile: file, acceptNew: false, replace: false };
    expect(await verifyHostKey(policy, current)).toEqual({ ok: true, outcome: 'known', offered: fingerprintOf(current) });
    // A revocation for 10.0.0.2 does not reach 10.0.0.3.
    const elsewhere = await tempKnownHosts([line('10.0.0.3', leaked), line('10.0.0.2', leaked, '@revoked'), ''].join('\n'));
    expect(await verifyHostKey({ ...policy, address: '10.0.0.3', knownHostsFile: elsewhere }, leaked)).toMatchObject({ ok: true, outcome: 'known' });
  });

  it('the operator reads which file and line revoke the key, and what to do', () => {
    const target: ConnectionTarget = {
      host: 'web2',
      address: '10.0.0.22',
      port: 22,
      user: 'root',
      identityFile: '/k',
      knownHostsFile: '/inv/known_hosts',
      connectTimeoutSeconds: 10,
    };
    expect(
      describeHostKeyFailure(target, { acceptNewHostKeys: false, replaceHostKey: false }, { ok: false, reason: 'revoked', offered: 'SHA256:leaked', line: 3 }),
    ).toBe(
      'HOST KEY REVOKED: web2 offered SHA256:leaked, which /inv/known_hosts marks @revoked (line 3); it is refused whatever else lists it. ' +
        'Someone may hold the withdrawn key: give the host a new key on its console, then record that one (ssh.host_key, or --replace-host web2)',
    );
  });
});

/**
 * infra cannot check host certificates: ssh2 1.17 offers no *-cert-v01@openssh.com host key
 * algorithm, so a host always shows its plain key and the verifier never sees a certificate.
 */
describe('@cert-authority lines', () => {
  const hostKey = fakeKey();
  const ca = fakeKey();
  const caLine = `@cert-authority 10.0.0.* ssh-ed25519 ${ca.toString('base64')}`;

  it('do not make a host known: its plain key is unknown, and the verdict says a CA line covers it', async () => {
    const file = await tempKnownHosts(`${caLine}\n`);
    const policy = { address: '10.0.0.2', port: 22, knownHostsFile: file, acceptNew: false, replace: false };
    expect(await verifyHostKey(policy, hostKey)).toEqual({ ok: false, reason: 'unknown', offered: fingerprintOf(hostKey), certAuthority: true });
    expect(await verifyHostKey({ ...policy, address: '192.0.2.1' }, hostKey)).toEqual({ ok: false, reason: 'unknown', offered: fingerprintOf(hostKey) });
  });

  it('break nothing: beside them a plain line, a pin or --accept-new-host-keys work as without them, and the CA line is kept', async () => {
    const known = await tempKnownHosts(`${caLine}\n10.0.0.2 ssh-ed25519 ${hostKey.toString('base64')}\n`);
    const policy = { address: '10.0.0.2', port: 22, knownHostsFile: known, acceptNew: false, replace: false };
    expect(await verifyHostKey(policy, hostKey)).toMatchObject({ ok: true, outcome: 'known' });
    expect(await verifyHostKey({ ...policy, fingerprint: fingerprintOf(hostKey) }, hostKey)).toMatchObject({ ok: true, outcome: 'known' });
    const fresh = await tempKnownHosts(`${caLine}\n`);
    expect(await verifyHostKey({ ...policy, knownHostsFile: fresh, acceptNew: true }, hostKey)).toMatchObject({ ok: true, outcome: 'recorded' });
    expect(await readFile(fresh, 'utf8')).toBe(`${caLine}\n10.0.0.2 ssh-ed25519 ${hostKey.toString('base64')}\n`);
  });

  it('the operator reads why the CA line did not help, and the fixes that do', () => {
    const target: ConnectionTarget = {
      host: 'web2',
      address: '10.0.0.2',
      port: 22,
      user: 'root',
      identityFile: '/k',
      knownHostsFile: '/inv/known_hosts',
      connectTimeoutSeconds: 10,
    };
    expect(
      describeHostKeyFailure(
        target,
        { acceptNewHostKeys: false, replaceHostKey: false },
        { ok: false, reason: 'unknown', offered: 'SHA256:plain', certAuthority: true },
      ),
    ).toBe(
      'host key not known (offered SHA256:plain); a @cert-authority line covers web2, but infra cannot check host certificates ' +
        '(its SSH library, ssh2, never asks for one, so the host shows its plain key), and that key must be known itself: ' +
        'verify it and run again with --accept-new-host-keys to record it in /inv/known_hosts, or pin it in the inventory (ssh.host_key)',
    );
  });
});

describe('replacing a host in known_hosts leaves wildcard lines', () => {
  it('a line for 10.0.0.* speaks for other hosts too: it stays, and the new line is added', () => {
    const wide = `10.0.0.* ssh-ed25519 ${fakeKey().toString('base64')}`;
    const fresh = fakeKey();
    const result = replaceHostLines(`${wide}\n`, '10.0.0.2', 22, (name) => `${name} ssh-ed25519 ${fresh.toString('base64')}`);
    expect(result).toBe(`${wide}\n10.0.0.2 ssh-ed25519 ${fresh.toString('base64')}\n`);
  });
});

describe('a host given by name is looked up by its name and by its address, as OpenSSH does', () => {
  const key = fakeKey();
  const blob = key.toString('base64');

  it('finds keys recorded under the name (plain, hashed, wildcard, [name]:port) or under the address', () => {
    expect(keysForHost(`web1.example.org ssh-ed25519 ${blob}\n`, '10.0.0.21', 22, 'web1.example.org').known).toHaveLength(1);
    expect(keysForHost(`${hashedName('web1.example.org')} ssh-ed25519 ${blob}\n`, '10.0.0.21', 22, 'web1.example.org').known).toHaveLength(1);
    expect(keysForHost(`*.example.org ssh-ed25519 ${blob}\n`, '10.0.0.21', 22, 'web1.example.org').known).toHaveLength(1);
    expect(keysForHost(`[web1.example.org]:2222 ssh-ed25519 ${blob}\n`, '10.0.0.21', 2222, 'web1.example.org').known).toHaveLength(1);
    expect(keysForHost(`10.0.0.21 ssh-ed25519 ${blob}\n`, '10.0.0.21', 22, 'web1.example.org').known).toHaveLength(1);
    // Another name, or the name on another port, is not this host.
    expect(keysForHost(`web2.example.org ssh-ed25519 ${blob}\n`, '10.0.0.21', 22, 'web1.example.org').known).toHaveLength(0);
    expect(keysForHost(`web1.example.org ssh-ed25519 ${blob}\n`, '10.0.0.21', 2222, 'web1.example.org').known).toHaveLength(0);
    // Without a name, only the address counts (as before).
    expect(keysForHost(`web1.example.org ssh-ed25519 ${blob}\n`, '10.0.0.21', 22).known).toHaveLength(0);
  });

  it('a revocation under the name refuses the key offered at the address', async () => {
    const file = await tempKnownHosts(`10.0.0.21 ssh-ed25519 ${blob}\n@revoked web1.example.org ssh-ed25519 ${blob}\n`);
    const verdict = await verifyHostKey(
      { address: '10.0.0.21', hostName: 'web1.example.org', port: 22, knownHostsFile: file, acceptNew: false, replace: false },
      key,
    );
    expect(verdict).toMatchObject({ ok: false, reason: 'revoked', line: 2 });
  });

  it('records a first contact under both, name first, and then knows the host by either', async () => {
    const file = await tempKnownHosts('');
    const policy = { address: '10.0.0.21', hostName: 'web1.example.org', port: 22, knownHostsFile: file, acceptNew: true, replace: false };
    expect(await verifyHostKey(policy, key)).toMatchObject({ ok: true, outcome: 'recorded' });
    expect(await readFile(file, 'utf8')).toBe(`web1.example.org,10.0.0.21 ssh-ed25519 ${blob}\n`);
    expect(await verifyHostKey({ ...policy, acceptNew: false }, key)).toMatchObject({ ok: true, outcome: 'known' });
    expect(await verifyHostKey({ ...policy, hostName: undefined, acceptNew: false }, key)).toMatchObject({ ok: true, outcome: 'known' });
  });

  it('--replace-host takes out the lines under the name and under the address, and writes one for both', () => {
    const other = fakeKey().toString('base64');
    const text = `web1.example.org ssh-ed25519 ${blob}\n10.0.0.21 ssh-rsa ${blob}\n10.0.0.22 ssh-ed25519 ${other}\n`;
    const newLine = (hosts: string): string => `${hosts} ssh-ed25519 NEW`;
    expect(replaceHostLines(text, '10.0.0.21', 22, newLine, 'web1.example.org')).toBe(
      `web1.example.org,10.0.0.21 ssh-ed25519 NEW\n10.0.0.22 ssh-ed25519 ${other}\n`,
    );
  });
});
