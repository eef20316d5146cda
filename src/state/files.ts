import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface StateDirFile {
  /** Its path relative to the state directory. */
  name: string;
  path: string;
  stat: Stats;
}

/**
 * Every regular file below the state directory, walked depth first; a file or folder whose
 * relative name `skip` picks is left out. A state directory not made yet has none.
 */
export async function stateDirFiles(stateDir: string, skip: (name: string) => boolean): Promise<StateDirFile[]> {
  const found: StateDirFile[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const name = relative(stateDir, path);
      if (skip(name)) continue;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) found.push({ name, path, stat: await lstat(path) });
    }
  }
  await walk(stateDir);
  return found;
}
