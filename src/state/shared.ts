import { access, chmod, lstat, mkdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UserError } from '../core/errors.js';
import type { Inventory } from '../inventory/model.js';
import { decryptWith, encryptTo } from './age.js';
import { BUNDLE_FORMAT, bundleHash, isSafeRelativePath, parseBundle, serializeBundle, type StateBundle, type StateFile } from './bundle.js';
import { stateDirFiles } from './files.js';

/**
 * The shared state: the state directory's CA, generated secrets and issued keys, kept encrypted in
 * one file next to the inventory (state.file), which a team commits. Each run brings the local
 * state directory up to that file before it reads any secret (`openSharedState`), and writes the
 * file again after it when the state or the recipients changed (`saveSharedStates`), so an
 * operator on a fresh clone renders exactly what the fleet already has. A record of the last sync
 * spares both steps, and the age command, on a run where nothing moved.
 */

/** Entries of the state directory that stay on this machine: run reports and infra's own records. */
const LOCAL_ONLY = new Set(['reports', '.gitignore', '.shared-state.json']);
const SYNC_RECORD = '.shared-state.json';

interface SyncRecord {
  /** The shared state file this record is about (another file's record says nothing of this one). */
  file: string;
  /** Hash of the encrypted file as last read or written. */
  fileHash: string;
  /** Hash of the state files it holds (contents, modes, times). */
  filesHash: string;
  /** The recipients it was encrypted to. */
  recipients: string[];
}

const opened = new Map<string, Inventory>();

async function readRecord(inventory: Inventory): Promise<SyncRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(join(inventory.stateDir, SYNC_RECORD), 'utf8')) as SyncRecord;
    return record.file === inventory.sharedState?.file ? record : undefined;
  } catch {
    return undefined;
  }
}

async function writeRecord(stateDir: string, record: SyncRecord): Promise<void> {
  await writeFile(join(stateDir, SYNC_RECORD), `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

/** The hash of a bundle's files alone: what says whether the state itself changed. */
function filesHash(bundle: StateBundle): string {
  return bundleHash(serializeBundle({ ...bundle, recipients: [] }));
}

/** Whether two bundles hold the same files with the same contents and modes. */
function sameFiles(a: StateBundle, b: StateBundle): boolean {
  const names = Object.keys(a.files);
  if (names.length !== Object.keys(b.files).length) return false;
  return names.every((name) => a.files[name]?.content === b.files[name]?.content && a.files[name]?.mode === b.files[name]?.mode);
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The files that can open the state: INFRA_STATE_IDENTITY, else the SSH keys the inventory logs in with, else the user's usual keys. */
export async function stateIdentities(inventory: Inventory, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const named = env.INFRA_STATE_IDENTITY?.trim();
  if (named) return [named];
  const candidates = [
    ...new Set([...inventory.hosts.map((host) => host.ssh.identityFile), join(homedir(), '.ssh', 'id_ed25519'), join(homedir(), '.ssh', 'id_rsa')]),
  ];
  const found: string[] = [];
  for (const candidate of candidates) if (candidate && (await exists(candidate))) found.push(candidate);
  if (found.length === 0)
    throw new UserError(
      `no identity to decrypt the shared state ${inventory.sharedState?.file} with: set INFRA_STATE_IDENTITY to your age key or SSH private key`,
    );
  return found;
}

/** The state directory as a bundle: every regular file but the local-only ones. */
export async function packStateDir(stateDir: string, recipients: readonly string[]): Promise<StateBundle> {
  const files: Record<string, StateFile> = {};
  for (const { name, path, stat } of await stateDirFiles(stateDir, (name) => LOCAL_ONLY.has(name) || name.endsWith('.tmp'))) {
    files[name] = { mode: (stat.mode & 0o777).toString(8), mtimeMs: Math.trunc(stat.mtimeMs), content: (await readFile(path)).toString('base64') };
  }
  return { format: BUNDLE_FORMAT, recipients: [...recipients], files };
}

/** Writes each file of the bundle that differs from the local copy (content, mode or time), atomically. */
async function unpackInto(stateDir: string, bundle: StateBundle): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await chmod(stateDir, 0o700);
  await writeFile(join(stateDir, '.gitignore'), '*\n', { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  for (const [name, file] of Object.entries(bundle.files)) {
    if (!isSafeRelativePath(name) || LOCAL_ONLY.has(name.split('/')[0] as string)) continue;
    const path = join(stateDir, name);
    const content = Buffer.from(file.content, 'base64');
    const local = await readIfExists(path);
    const mode = Number.parseInt(file.mode, 8);
    if (local && local.equals(content) && ((await lstat(path)).mode & 0o777) === mode) continue;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, content, { mode });
    await chmod(temporary, mode);
    // Half a millisecond in: a time in seconds as a double lands a hair either side of the
    // millisecond, and the state listing of a saved plan reads whole milliseconds.
    const seconds = (file.mtimeMs + 0.5) / 1000;
    await utimes(temporary, seconds, seconds);
    await rename(temporary, path);
  }
}

/**
 * Brings the local state directory up to the shared state file, before anything reads a secret.
 * Without state.file in the inventory, the local directory is the state, as it always was.
 */
export async function openSharedState(inventory: Inventory): Promise<void> {
  const shared = inventory.sharedState;
  if (!shared) return;
  opened.set(inventory.file, inventory);
  const ciphertext = await readIfExists(shared.file);
  if (!ciphertext) return;
  const fileHash = bundleHash(ciphertext);
  const record = await readRecord(inventory);
  if (record?.fileHash === fileHash) return;
  const plaintext = await decryptWith(await stateIdentities(inventory), ciphertext, shared.file);
  let bundle: StateBundle;
  try {
    bundle = parseBundle(plaintext.toString('utf8'), shared.file);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  // The file moved on (a teammate's run): take it, unless this directory moved on too.
  const local = await packStateDir(inventory.stateDir, bundle.recipients);
  const localUnchanged = record ? filesHash(local) === record.filesHash : Object.keys(local.files).length === 0;
  if (!localUnchanged && !sameFiles(local, bundle)) {
    throw new UserError(
      `the shared state ${shared.file} and the state directory ${inventory.stateDir} both changed since they were last in step; nothing was changed.\n` +
        `Keep one: to take the shared file (what the fleet has if it is the newer), move ${inventory.stateDir} away and run again; ` +
        `to keep the directory, move ${shared.file} away and run again (the next run encrypts the directory into it).`,
    );
  }
  await unpackInto(inventory.stateDir, bundle);
  await writeRecord(inventory.stateDir, { file: shared.file, fileHash, filesHash: filesHash(bundle), recipients: bundle.recipients });
}

/** Encrypts the local state into state.file when it, or the recipients, changed since the last sync. */
export async function saveSharedState(inventory: Inventory): Promise<boolean> {
  const shared = inventory.sharedState;
  if (!shared) return false;
  const bundle = await packStateDir(inventory.stateDir, shared.recipients);
  if (Object.keys(bundle.files).length === 0) return false;
  const record = await readRecord(inventory);
  const unchanged = record?.filesHash === filesHash(bundle) && record.recipients.join('\n') === shared.recipients.join('\n');
  if (unchanged && (await exists(shared.file))) return false;
  const ciphertext = await encryptTo(shared.recipients, Buffer.from(serializeBundle(bundle)));
  const temporary = `${shared.file}.${process.pid}.tmp`;
  await writeFile(temporary, ciphertext, { mode: 0o644 });
  await rename(temporary, shared.file);
  await writeRecord(inventory.stateDir, {
    file: shared.file,
    fileHash: bundleHash(ciphertext),
    filesHash: filesHash(bundle),
    recipients: [...shared.recipients],
  });
  return true;
}

/** Saves the shared state of every inventory this process opened: called once, after the command, whatever its outcome. */
export async function saveSharedStates(): Promise<void> {
  const inventories = [...opened.values()];
  opened.clear();
  for (const inventory of inventories) {
    try {
      await saveSharedState(inventory);
    } catch (err) {
      throw new UserError(
        `the state in ${inventory.stateDir} could not be saved into ${inventory.sharedState?.file}: ${err instanceof Error ? err.message : String(err)}\n` +
          `The next infra run saves it; do not commit the old file meanwhile.`,
      );
    } finally {
      await rm(`${inventory.sharedState?.file}.${process.pid}.tmp`, { force: true });
    }
  }
}
