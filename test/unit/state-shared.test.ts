import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/model.js';
import { BUNDLE_FORMAT, parseBundle } from '../../src/state/bundle.js';
import { openSharedState, saveSharedState } from '../../src/state/shared.js';

/**
 * The shared state with the real age command: one operator's state directory saved into the
 * committed file, then opened by another operator on a fresh clone. Keys are made for each test:
 * an SSH key (what operators have) and an age key.
 */
let work: string;
let aliceKey: string;
let alicePublic: string;
let bobKey: string;
let bobPublic: string;

function inventoryIn(dir: string, recipients: string[]): Inventory {
  return {
    file: join(dir, 'inventory.yaml'),
    stateDir: join(dir, '.infra'),
    sharedState: { file: join(dir, 'infra-state.age'), recipients },
    hosts: [],
  } as unknown as Inventory;
}

async function seedState(stateDir: string): Promise<void> {
  await mkdir(join(stateDir, 'ca'), { recursive: true, mode: 0o700 });
  await mkdir(join(stateDir, 'secrets'), { recursive: true, mode: 0o700 });
  await mkdir(join(stateDir, 'reports'), { recursive: true, mode: 0o700 });
  await writeFile(join(stateDir, 'ca', 'ca.key'), 'PRIVATE-CA-KEY-MATERIAL\n', { mode: 0o600 });
  await writeFile(join(stateDir, 'ca', 'ca.crt'), 'PUBLIC-CA-CERT\n', { mode: 0o644 });
  await writeFile(join(stateDir, 'secrets', 'db.password'), 's3cret-db-password\n', { mode: 0o600 });
  await writeFile(join(stateDir, 'reports', 'run.json'), '{"local":"only"}\n', { mode: 0o600 });
}

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'infra-state-'));
  aliceKey = join(work, 'alice_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@laptop', '-f', aliceKey]);
  alicePublic = (await readFile(`${aliceKey}.pub`, 'utf8')).trim();
  bobKey = join(work, 'bob.agekey');
  execFileSync('age-keygen', ['-o', bobKey], { stdio: 'ignore' });
  bobPublic = execFileSync('age-keygen', ['-y', bobKey]).toString().trim();
});
afterEach(async () => {
  delete process.env.INFRA_STATE_IDENTITY;
  await rm(work, { recursive: true, force: true });
});

describe('the shared state file', () => {
  it("gives a second operator on a fresh clone the first one's state, byte for byte, with modes and times, and no secret in clear", async () => {
    const alice = inventoryIn(join(work, 'alice'), [alicePublic]);
    await seedState(alice.stateDir);
    expect(await saveSharedState(alice)).toBe(true);
    const committed = await readFile(alice.sharedState!.file, 'utf8');
    expect(committed).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    for (const secret of ['PRIVATE-CA-KEY-MATERIAL', 's3cret-db-password']) {
      expect(committed).not.toContain(secret);
      expect(committed).not.toContain(Buffer.from(`${secret}\n`).toString('base64').slice(0, 16));
    }

    const clone = inventoryIn(join(work, 'clone'), [alicePublic]);
    await mkdir(join(work, 'clone'));
    await writeFile(clone.sharedState!.file, committed);
    process.env.INFRA_STATE_IDENTITY = aliceKey;
    await openSharedState(clone);
    for (const file of ['ca/ca.key', 'ca/ca.crt', 'secrets/db.password']) {
      expect(await readFile(join(clone.stateDir, file), 'utf8')).toBe(await readFile(join(alice.stateDir, file), 'utf8'));
      const [mine, theirs] = await Promise.all([stat(join(clone.stateDir, file)), stat(join(alice.stateDir, file))]);
      expect((mine.mode & 0o777).toString(8)).toBe((theirs.mode & 0o777).toString(8));
      expect(Math.trunc(mine.mtimeMs)).toBe(Math.trunc(theirs.mtimeMs));
    }
    await expect(readFile(join(clone.stateDir, 'reports', 'run.json'))).rejects.toThrow();
    expect(((await stat(clone.stateDir)).mode & 0o777).toString(8)).toBe('700');
  });

  it('is not written again when nothing changed, and is when a secret is added', async () => {
    const alice = inventoryIn(work, [alicePublic]);
    await seedState(alice.stateDir);
    await saveSharedState(alice);
    const first = await readFile(alice.sharedState!.file, 'utf8');
    expect(await saveSharedState(alice)).toBe(false);
    expect(await readFile(alice.sharedState!.file, 'utf8')).toBe(first);
    await writeFile(join(alice.stateDir, 'secrets', 'db.replication_password'), 'another\n', { mode: 0o600 });
    expect(await saveSharedState(alice)).toBe(true);
    expect(await readFile(alice.sharedState!.file, 'utf8')).not.toBe(first);
  });

  it('is re-encrypted when a recipient is added, so the new operator can open it', async () => {
    const alice = inventoryIn(work, [alicePublic]);
    await seedState(alice.stateDir);
    await saveSharedState(alice);
    process.env.INFRA_STATE_IDENTITY = bobKey;
    const bobBefore = inventoryIn(join(work, 'bob1'), [alicePublic]);
    await mkdir(join(work, 'bob1'));
    await writeFile(bobBefore.sharedState!.file, await readFile(alice.sharedState!.file));
    await expect(openSharedState(bobBefore)).rejects.toThrow(/cannot decrypt the shared state .*INFRA_STATE_IDENTITY/s);

    expect(await saveSharedState(inventoryIn(work, [alicePublic, bobPublic]))).toBe(true);
    const bob = inventoryIn(join(work, 'bob2'), [alicePublic, bobPublic]);
    await mkdir(join(work, 'bob2'));
    await writeFile(bob.sharedState!.file, await readFile(alice.sharedState!.file));
    await openSharedState(bob);
    expect(await readFile(join(bob.stateDir, 'secrets', 'db.password'), 'utf8')).toBe('s3cret-db-password\n');
  });

  it('brings a local state directory up to a newer file from a teammate', async () => {
    const alice = inventoryIn(work, [alicePublic]);
    await seedState(alice.stateDir);
    await saveSharedState(alice);
    const teammate = inventoryIn(join(work, 'teammate'), [alicePublic]);
    await mkdir(join(work, 'teammate'));
    await writeFile(teammate.sharedState!.file, await readFile(alice.sharedState!.file));
    process.env.INFRA_STATE_IDENTITY = aliceKey;
    await openSharedState(teammate);
    await writeFile(join(teammate.stateDir, 'ca', 'ca.crt'), 'ROTATED-CA-CERT\n', { mode: 0o644 });
    await saveSharedState(teammate);
    await writeFile(alice.sharedState!.file, await readFile(teammate.sharedState!.file));
    await openSharedState(alice);
    expect(await readFile(join(alice.stateDir, 'ca', 'ca.crt'), 'utf8')).toBe('ROTATED-CA-CERT\n');
  });
});

describe('when both moved on', () => {
  it('refuses, changing nothing, when the file and the directory both changed since they were last in step', async () => {
    const alice = inventoryIn(work, [alicePublic]);
    await seedState(alice.stateDir);
    await saveSharedState(alice);
    const teammate = inventoryIn(join(work, 'teammate'), [alicePublic]);
    await mkdir(join(work, 'teammate'));
    await writeFile(teammate.sharedState!.file, await readFile(alice.sharedState!.file));
    process.env.INFRA_STATE_IDENTITY = aliceKey;
    await openSharedState(teammate);
    await writeFile(join(teammate.stateDir, 'secrets', 'db.password'), 'teammates-new-password\n', { mode: 0o600 });
    await saveSharedState(teammate);
    // Alice made a secret of her own meanwhile, and then pulls the teammate's file.
    await writeFile(join(alice.stateDir, 'secrets', 'db.replication_password'), 'alices-secret\n', { mode: 0o600 });
    await writeFile(alice.sharedState!.file, await readFile(teammate.sharedState!.file));
    await expect(openSharedState(alice)).rejects.toThrow(/both changed since they were last in step; nothing was changed/);
    expect(await readFile(join(alice.stateDir, 'secrets', 'db.password'), 'utf8')).toBe('s3cret-db-password\n');
  });
});

describe('the state bundle', () => {
  it('refuses an entry that would land outside the state directory', () => {
    const bundle = (path: string) => JSON.stringify({ format: BUNDLE_FORMAT, recipients: [], files: { [path]: { mode: '600', mtimeMs: 0, content: '' } } });
    expect(() => parseBundle(bundle('../../etc/cron.d/x'), 'infra-state.age')).toThrow(/not a plain file inside the state directory/);
    expect(() => parseBundle(bundle('/etc/passwd'), 'infra-state.age')).toThrow(/not a plain file inside the state directory/);
    expect(parseBundle(bundle('ca/ca.key'), 'infra-state.age').files['ca/ca.key']?.mode).toBe('600');
  });
});
