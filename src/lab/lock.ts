import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../core/errors.js';

/**
 * One lab command at a time: two concurrent `up`s would race on mounts, the bridge and the state
 * file. The lock holds the owner's pid; a lock whose owner is dead is taken over.
 */
export async function withLabLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(lockFile), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const owner = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new UserError(`another lab command is running (pid ${owner}); wait for it, or remove ${lockFile} if that process is not infra`);
      }
      await rm(lockFile, { force: true });
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
