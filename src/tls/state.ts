import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Makes `<stateDir>/<name>` (both 0700) and returns its path. The state directory holds the CA
 * key and the web hosts' keys, so it also gets a `.gitignore` of `*` if it has none.
 */
export async function prepareStateSubdir(stateDir: string, name: string): Promise<string> {
  const dir = join(stateDir, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is reduced by the umask and leaves an existing folder as it was.
  await chmod(stateDir, 0o700);
  await chmod(dir, 0o700);
  await writeFile(join(stateDir, '.gitignore'), '*\n', { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return dir;
}

/** A name next to `path` that no other run uses, for writing before renaming into place. */
export function temporaryNameFor(path: string): string {
  return `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/** Replaces `path` whole: a reader sees the old text or the new, never half of it. */
export async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const temporary = temporaryNameFor(path);
  try {
    await writeFile(temporary, text, { mode });
    await chmod(temporary, mode);
    await rename(temporary, path);
  } finally {
    await rm(temporary, { force: true });
  }
}

export async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Puts a key file back to 0600 if someone loosened it. */
export async function tightenKeyMode(path: string): Promise<void> {
  if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600);
}
