import { relative } from 'node:path';
import { UserError } from '../core/errors.js';
import type { HostDesire } from '../core/types.js';
import { resolveRoleSecrets } from '../engine/secrets.js';
import { selectHosts } from '../engine/select.js';
import { loadInventory } from '../inventory/load.js';
import { formatIssue, type Host, type Inventory } from '../inventory/model.js';
import { desiredForHost } from '../roles/index.js';
import type { GlobalOptions } from './main.js';

export interface RunContext {
  inventory: Inventory;
  hosts: Host[];
  desires: HostDesire[];
}

/** Loads and validates the inventory, selects the hosts and renders what they should have. */
export async function prepareRun(file: string, globals: GlobalOptions): Promise<RunContext> {
  const loaded = await loadInventory(file);
  if (!loaded.ok) {
    const shown = relative(process.cwd(), file) || file;
    throw new UserError(`${file} is not valid; nothing was changed:\n${loaded.issues.map((issue) => '  ' + formatIssue(issue, shown)).join('\n')}`);
  }
  const inventory = loaded.inventory;
  const hosts = selectHosts(inventory, globals.limit);
  const desires: HostDesire[] = [];
  for (const host of hosts) {
    const secrets = await resolveRoleSecrets(inventory, host);
    try {
      desires.push(desiredForHost(inventory, host, secrets));
    } catch (err) {
      throw new UserError(`rendering the templates for ${host.name} failed; nothing was changed:\n  ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { inventory, hosts, desires };
}
