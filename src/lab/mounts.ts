import { mkdir, readFile } from 'node:fs/promises';
import { run } from './exec.js';

/**
 * Overlay mounts for hosts and the temporary chroots of the repo build. Every removal of a lab
 * tree goes through `removeTree`, which first unmounts whatever is mounted below it: a leftover
 * /proc or /dev bind mount inside an interrupted chroot must never be deleted through.
 */

/** Mount points from /proc/self/mountinfo (field 5, with its octal escapes decoded). */
export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return parseMountPoints(text);
}

export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p !== '')
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

export async function isMounted(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

export async function mountOverlay(lower: string, upper: string, work: string, target: string): Promise<void> {
  await mkdir(upper, { recursive: true });
  await mkdir(work, { recursive: true });
  await mkdir(target, { recursive: true });
  if (await isMounted(target)) return;
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, target]);
}

/** Unmounts every mount at or below `root`, deepest first. */
export async function unmountUnder(root: string): Promise<void> {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  const below = (await mountPoints()).filter((p) => p === root || p.startsWith(prefix));
  // Deepest first; the same point can be stacked several times, so unmount each occurrence.
  below.sort((a, b) => b.length - a.length);
  for (const p of below) {
    try {
      await run('umount', [p]);
    } catch {
      // Busy (a process still has it open): detach it lazily so nothing stays visible.
      await run('umount', ['-l', p]);
    }
  }
}

/** Deletes a tree after unmounting everything in it, staying on its own filesystem. */
export async function removeTree(path: string): Promise<void> {
  await unmountUnder(path);
  await run('rm', ['-rf', '--one-file-system', path]);
}
