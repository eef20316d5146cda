import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import { parseSavedPlan, type SavedPlan } from '../report/saved-plan.js';
import { stateDirFiles } from '../state/files.js';

/**
 * Each file of the state directory as "size mtime", run reports left out (every run adds one):
 * what a saved plan's secrets and certificates are rendered from. Sizes and times say when a
 * secret was made again without saying anything of it.
 */
export async function stateListing(stateDir: string): Promise<Record<string, string>> {
  const files = await stateDirFiles(stateDir, (name) => name === 'reports');
  return Object.fromEntries(
    files.map(({ name, stat }): [string, string] => [name, `${stat.size} ${Math.trunc(stat.mtimeMs)}`]).sort(([a], [b]) => a.localeCompare(b)),
  );
}

/** Writes a saved plan beside its final name and renames it there, so no reader sees half a plan. */
export async function writePlanFile(file: string, plan: SavedPlan): Promise<void> {
  const temp = join(dirname(resolve(file)), `.${Date.now()}-${process.pid}.infra-plan.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(plan, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw new UserError(`--out ${file}: the plan could not be written: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export async function readPlanFile(file: string): Promise<SavedPlan> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UserError(
      `${file}: cannot read the plan: ${err.code === 'ENOENT' ? 'no such file' : err.message}; make one with infra provision INVENTORY --out ${file}`,
    );
  });
  try {
    return parseSavedPlan(text);
  } catch (err) {
    throw new UserError(`${file}: ${err instanceof Error ? err.message : String(err)}; make a plan with infra provision INVENTORY --out ${file}`);
  }
}
