import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

/** Runs `infra ...args` in-process and returns its exit code and what it wrote. */
export async function infraInProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(['node', 'infra', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/**
 * For the tests of one file: HOME is a folder that holds ~/.ssh/id_ed25519, as on a machine set
 * up to run infra (the test inventories name that key, and validate checks that it exists).
 */
export function withHomeHoldingSshKey(): void {
  beforeAll(async () => {
    const fakeHome = await mkdtemp(join(tmpdir(), 'infra-home-'));
    await mkdir(join(fakeHome, '.ssh'));
    await writeFile(join(fakeHome, '.ssh', 'id_ed25519'), 'a private key\n', { mode: 0o600 });
    vi.stubEnv('HOME', fakeHome);
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });
}
