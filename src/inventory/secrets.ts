import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { Secret } from '../core/secret.js';
import type { Inventory, SecretSource } from './model.js';

/**
 * Turns a secret source from the inventory into its value, wrapped in `Secret` so that it cannot
 * leak into logs, diffs or JSON. Throws `UserError` naming the inventory key and the fix.
 */
export async function resolveSecret(source: SecretSource, inventory: Inventory): Promise<Secret> {
  switch (source.kind) {
    case 'env':
      return fromEnvironment(source.name, source.key);
    case 'file':
      return fromFile(source.path, source.key);
    case 'cmd':
      return fromCommand(source.command, source.cwd, source.key);
    case 'generate':
      return generated(source.id, inventory.stateDir);
  }
}

function describeKey(key: string | undefined): string {
  return key ? ` (${key})` : '';
}

function fromEnvironment(name: string, key: string | undefined): Secret {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new UserError(
      `environment variable ${name} is not set${describeKey(key)}: export ${name}=… before running infra, ` +
        'or change the inventory to file:PATH or generate',
    );
  }
  return new Secret(value);
}

async function fromFile(path: string, key: string | undefined): Promise<Secret> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
    throw new UserError(
      `secret file ${path}${describeKey(key)} ${reason}: create it with the secret on its first line, ` + 'or change the inventory to env:NAME or generate',
    );
  }
  const firstLine = (text.split('\n')[0] ?? '').replace(/\r$/, '');
  if (firstLine === '') {
    throw new UserError(`secret file ${path}${describeKey(key)} is empty: write the secret on its first line`);
  }
  return new Secret(firstLine);
}

const COMMAND_TIMEOUT_MS = 60_000;

/**
 * Runs the operator's own command (a password manager's or a vault's client), as Kamal's secret
 * adapters do: its first line is the secret. Its stderr and the terminal stay the operator's, so
 * a client that asks for a passphrase or a touch can; its stdout is never shown, and its error
 * says only the exit status.
 */
function fromCommand(command: string, cwd: string, key: string | undefined): Promise<Secret> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, stdio: ['inherit', 'pipe', 'inherit'], timeout: COMMAND_TIMEOUT_MS });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', (err) => reject(new UserError(`the secret command for${describeKey(key)} could not start: ${err.message}`)));
    child.on('close', (code, signal) => {
      const firstLine = (Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? '').replace(/\r$/, '');
      if (code !== 0) {
        const why = signal ? `was stopped (${signal}${signal === 'SIGTERM' ? `, after ${COMMAND_TIMEOUT_MS / 1000} s` : ''})` : `exited ${code}`;
        reject(new UserError(`the secret command${describeKey(key)} ${why}: run it yourself to see why (cmd: in the inventory)`));
      } else if (firstLine === '') {
        reject(new UserError(`the secret command${describeKey(key)} printed nothing: it must print the secret on its first line`));
      } else resolve(new Secret(firstLine));
    });
  });
}

// The id becomes a file name in the state directory: keep it to a key path.
const SECRET_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * A secret infra made up once and keeps in `<stateDir>/secrets/<id>`: every later run must get the
 * same value, since it is already set on the hosts (a database password, for example).
 */
async function generated(id: string, stateDir: string): Promise<Secret> {
  if (!SECRET_ID.test(id)) throw new UserError(`cannot generate a secret named ${JSON.stringify(id)}: not a key path`);
  const secretsDir = join(stateDir, 'secrets');
  await prepareStateDir(stateDir, secretsDir);
  const file = join(secretsDir, id);

  const existing = await readExisting(file, id);
  if (existing) return existing;

  // 24 random bytes → 32 URL-safe characters: safe in a my.cnf, a URL or a shell word.
  const value = randomBytes(24).toString('base64url');
  // Written whole to a temporary name, then linked into place: link fails if another run got
  // there first, so the file is created once and nobody reads it half written.
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, `${value}\n`, { mode: 0o600 });
  try {
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = await readExisting(file, id);
    if (winner) return winner;
    throw error;
  } finally {
    await rm(temporary, { force: true });
  }
  return new Secret(value);
}

async function prepareStateDir(stateDir: string, secretsDir: string): Promise<void> {
  await mkdir(secretsDir, { recursive: true, mode: 0o700 });
  // mkdir's mode is reduced by the umask and leaves an existing folder as it was.
  await chmod(stateDir, 0o700);
  await chmod(secretsDir, 0o700);
  // The state directory holds secrets and the CA key: keep all of it out of git.
  await writeFile(join(stateDir, '.gitignore'), '*\n', { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
}

async function readExisting(file: string, id: string): Promise<Secret | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const value = text.split('\n')[0] ?? '';
  if (value === '') {
    throw new UserError(
      `generated secret ${id} in ${file} is empty: restore it from a backup (the hosts already use it), ` +
        'or delete the file to generate a new one and set it on the hosts again',
    );
  }
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  return new Secret(value);
}
