/**
 * vitest globalSetup of the e2e project: one lab of eight booted hosts shared by every e2e file.
 * setup() brings it up fresh — bare hosts — resetting a lab that is already there; teardown()
 * brings it down with nothing left running or mounted. When the lab cannot run here (not root,
 * a tool missing) setup throws the reason: an e2e run never passes by skipping.
 */
import { DEFAULT_COUNTS } from '../../src/lab/plan.js';
import { labDown, labReset, labStatus, labUp, type LabProgress } from '../../src/lab/lab.js';
import { e2eRelease } from './helpers.js';

const progress: LabProgress = (step) => process.stderr.write(`[lab] ${step}\n`);

export async function setup(): Promise<void> {
  const started = Date.now();
  const status = await labStatus();
  // The release is named every time: a reset would otherwise keep the one an earlier run left.
  const release = e2eRelease();
  // A lab left from an earlier run (running or stopped) holds changed hosts: reset them to bare
  // with the default counts. Otherwise build/boot it (labUp throws the reason when it cannot).
  try {
    const result =
      status.hosts.length > 0
        ? await labReset({ counts: DEFAULT_COUNTS, ...release, onProgress: progress })
        : await labUp({ counts: DEFAULT_COUNTS, ...release, onProgress: progress });
    const running = result.hosts.filter((h) => h.state === 'running').length;
    if (running !== 8) throw new Error(`lab setup: expected 8 running hosts, got ${running}`);
  } catch (err) {
    // vitest runs no teardown after a failed setup: do not leave half a lab running.
    await labDown().catch(() => undefined);
    throw err;
  }
  process.stderr.write(`[lab] 8 bare ${release.distro} hosts (db: ${release.dbEngine}) up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

export async function teardown(): Promise<void> {
  await labDown({ onProgress: progress });
}
