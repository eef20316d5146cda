import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Role } from '../inventory/model.js';
import type { DbEngineName } from '../roles/db-engines.js';
import type { LabDistro } from './distro.js';
import type { LabCounts } from './plan.js';
import type { LabPaths } from './paths.js';

/** What the lab runs, kept in the lab dir so `status`, `reset` and `down` work from any directory. */
export interface LabStateHost {
  name: string;
  role: Role;
  address: string;
  machine: string;
  /** The nspawn process while the host runs. */
  pid?: number;
}

export interface LabState {
  subnet: string;
  counts: LabCounts;
  /** Absent in a state written before releases were recorded: bookworm and mariadb. */
  distro?: LabDistro;
  dbEngine?: DbEngineName;
  hosts: LabStateHost[];
}

export async function readState(paths: LabPaths): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(paths.state, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export async function writeState(paths: LabPaths, state: LabState): Promise<void> {
  const tmp = `${paths.state}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n');
  await rename(tmp, paths.state);
}
