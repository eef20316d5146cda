import { spawn } from 'node:child_process';
import { UserError } from '../core/errors.js';

/**
 * Encryption of the shared state with age (https://age-encryption.org), through Debian's `age`
 * command: it takes operators' SSH keys (ssh-ed25519, ssh-rsa) as recipients and identities, as
 * well as age's own keys, which the JavaScript implementations do not all do. The plain text goes
 * through pipes only; argv holds public keys and file paths.
 */
function runAge(args: readonly string[], input: Buffer): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    // stdin, stdout: the data; the terminal stays reachable for the passphrase of an encrypted SSH key.
    const child = spawn('age', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new UserError('the shared state (state.file) needs the age command on this machine: apt install age') : err),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(stdout), stderr: stderr.trim() }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Encrypts to every recipient (armored, so the committed file is text). */
export async function encryptTo(recipients: readonly string[], plaintext: Buffer): Promise<Buffer> {
  const result = await runAge(['--encrypt', '--armor', ...recipients.flatMap((recipient) => ['-r', recipient.trim()])], plaintext);
  if (result.code !== 0) throw new UserError(`age could not encrypt the shared state: ${result.stderr}`);
  return result.stdout;
}

/** Decrypts with the first of `identities` (files: age keys or SSH private keys) that opens it. */
export async function decryptWith(identities: readonly string[], ciphertext: Buffer, file: string): Promise<Buffer> {
  const result = await runAge(['--decrypt', ...identities.flatMap((identity) => ['-i', identity])], ciphertext);
  if (result.code !== 0) {
    throw new UserError(
      `cannot decrypt the shared state ${file} with ${identities.join(', ')}: ${result.stderr}\n` +
        `Use an identity it is encrypted to (INFRA_STATE_IDENTITY=path of your age key or SSH private key), ` +
        `or ask an operator who can open it to add your public key to state.recipients and run infra once.`,
    );
  }
  return result.stdout;
}
