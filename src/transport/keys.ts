import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Secret } from '../core/secret.js';

// ssh2 ships no types (node-ssh bundles its own copy of the few it needs).
const { utils } = createRequire(import.meta.url)('ssh2') as { utils: { parseKey(key: string, passphrase?: string): unknown } };

/** The environment variable an encrypted key's passphrase is read from (never argv, which others can read). */
export const PASSPHRASE_ENV = 'INFRA_SSH_PASSPHRASE';

/** Asks the operator for the passphrase of `identityFile` (the CLI's prompt, on a terminal). */
export type PassphrasePrompt = (identityFile: string) => Promise<string>;

export interface PrivateKey {
  text: string;
  /** Present for an encrypted key. */
  passphrase?: Secret;
}

/** A key file that could not be used, with the fix in the message. */
export class KeyError extends Error {
  constructor(
    message: string,
    /** Whether the file could not be read at all (rather than opened). */
    readonly unreadable = false,
  ) {
    super(message);
    this.name = 'KeyError';
  }
}

/**
 * The private keys of a run, each read once: an encrypted one is opened with the passphrase from
 * INFRA_SSH_PASSPHRASE, or else asked for once per file (hosts connect in parallel, so they share
 * one pending read), and the passphrase kept as a Secret.
 */
export class KeyStore {
  private readonly keys = new Map<string, Promise<PrivateKey>>();

  constructor(
    private readonly prompt?: PassphrasePrompt,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The passphrases read so far, for redaction (a fleet gives its own list of secrets). */
  passphrases: Secret[] = [];

  privateKey(identityFile: string): Promise<PrivateKey> {
    let key = this.keys.get(identityFile);
    if (!key) {
      key = this.read(identityFile);
      this.keys.set(identityFile, key);
    }
    return key;
  }

  private async read(identityFile: string): Promise<PrivateKey> {
    let text: string;
    try {
      text = await readFile(identityFile, 'utf8');
    } catch {
      throw new KeyError(`cannot read the identity file ${identityFile} (ssh.identity_file)`, true);
    }
    if (!isEncryptedKey(text)) return { text };
    const fromEnv = this.env[PASSPHRASE_ENV];
    const given = fromEnv ?? (this.prompt ? await this.prompt(identityFile) : undefined);
    if (given === undefined) {
      throw new KeyError(
        `the identity file ${identityFile} is encrypted and no passphrase was given: set ${PASSPHRASE_ENV}, ` +
          `run infra on a terminal to be asked, or add the key to an ssh-agent (ssh-add) and leave ssh.identity_file out`,
      );
    }
    const passphrase = new Secret(given);
    this.passphrases.push(passphrase);
    if (utils.parseKey(text, passphrase.reveal()) instanceof Error) {
      throw new KeyError(`the passphrase for ${identityFile}${fromEnv !== undefined ? ` (from ${PASSPHRASE_ENV})` : ''} does not open it`);
    }
    return { text, passphrase };
  }
}

/** Whether a private key needs a passphrase: ssh2 refuses to read it without one. */
export function isEncryptedKey(text: string): boolean {
  const parsed = utils.parseKey(text);
  return parsed instanceof Error && /encrypted/i.test(parsed.message) && /no passphrase/i.test(parsed.message);
}
