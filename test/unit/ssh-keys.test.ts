import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { isEncryptedKey, KeyError, KeyStore } from '../../src/transport/keys.js';

/** An ed25519 key made by ssh-keygen, encrypted with `passphrase` when one is given. */
async function keyFile(passphrase: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'infra-key-')), 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', file]);
  return file;
}

describe('private keys', () => {
  let plain: string;
  let encrypted: string;
  beforeAll(async () => {
    [plain, encrypted] = await Promise.all([keyFile(''), keyFile('correct horse')]);
  });

  it('a plain key is read as it is, without asking', async () => {
    const store = new KeyStore(async () => expect.unreachable('asked for a passphrase'), {});
    const key = await store.privateKey(plain);
    expect(key.text).toContain('OPENSSH PRIVATE KEY');
    expect(key.passphrase).toBeUndefined();
  });

  it('an encrypted key opens with INFRA_SSH_PASSPHRASE, kept as a secret that never prints', async () => {
    const store = new KeyStore(undefined, { INFRA_SSH_PASSPHRASE: 'correct horse' });
    const key = await store.privateKey(encrypted);
    expect(key.passphrase?.reveal()).toBe('correct horse');
    expect(`${key.passphrase} ${JSON.stringify(key)} ${inspect(key)}`).not.toContain('correct horse');
    expect(store.passphrases).toEqual([key.passphrase]);
  });

  it('is asked once per key file, however many hosts connect with it at once', async () => {
    const asked: string[] = [];
    const store = new KeyStore(async (file) => {
      asked.push(file);
      return 'correct horse';
    }, {});
    const keys = await Promise.all([store.privateKey(encrypted), store.privateKey(encrypted), store.privateKey(encrypted)]);
    expect(asked).toEqual([encrypted]);
    expect(keys.every((key) => key.passphrase?.reveal() === 'correct horse')).toBe(true);
  });

  it('without a passphrase or a terminal, the error names the fixes; a wrong one is refused, naming where it came from', async () => {
    await expect(new KeyStore(undefined, {}).privateKey(encrypted)).rejects.toThrow(
      new KeyError(
        `the identity file ${encrypted} is encrypted and no passphrase was given: set INFRA_SSH_PASSPHRASE, ` +
          'run infra on a terminal to be asked, or add the key to an ssh-agent (ssh-add) and leave ssh.identity_file out',
      ),
    );
    await expect(new KeyStore(undefined, { INFRA_SSH_PASSPHRASE: 'wrong' }).privateKey(encrypted)).rejects.toThrow(
      `the passphrase for ${encrypted} (from INFRA_SSH_PASSPHRASE) does not open it`,
    );
    await expect(new KeyStore(undefined, {}).privateKey('/nonexistent/key')).rejects.toMatchObject({ unreadable: true });
  });

  it('tells an encrypted key from a plain one', async () => {
    const { readFile } = await import('node:fs/promises');
    expect(isEncryptedKey(await readFile(encrypted, 'utf8'))).toBe(true);
    expect(isEncryptedKey(await readFile(plain, 'utf8'))).toBe(false);
  });
});
