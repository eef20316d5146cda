import type { Command } from 'commander';
import { formatIssue, ROLES, type Inventory } from '../../inventory/model.js';
import type { GlobalOptions } from '../main.js';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check an inventory file without connecting to any host')
    .argument('<inventory>', 'the inventory YAML file')
    .addHelpText(
      'after',
      `
Reads the inventory and reports every problem at once, each as FILE:LINE:COLUMN KEY: MESSAGE:
unknown keys or roles, wrong types, bad addresses, a VIP outside the lb hosts' subnet, a db
primary that is not a db host, secrets written in clear, and so on. Exit code 0 when the
inventory is valid, 1 otherwise. Warnings (a source open to the whole internet) are printed
and do not change the exit code. With --json, prints {"ok": …, "issues": [...], "warnings": [...]}.

Example:
  $ infra validate inventory.yaml
  inventory.yaml:14:7 hosts.web1.roles[0]: unknown role "wbe" (expected lb, web, app, db)`,
    )
    .action(async (file: string, _options: unknown, command: Command) => {
      const { json } = command.optsWithGlobals<GlobalOptions>();
      const { loadInventory } = await import('../../inventory/load.js');
      const result = await loadInventory(file);
      if (json) {
        const report = { ok: result.ok, issues: result.ok ? [] : result.issues, warnings: result.warnings };
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        // The path as the operator typed it, so that editors and terminals can jump to it.
        if (!result.ok) for (const issue of result.issues) process.stdout.write(`${formatIssue(issue, file)}\n`);
        for (const warning of result.warnings) process.stdout.write(`${formatIssue(warning, file, 'warning')}\n`);
        if (result.ok) process.stdout.write(`ok: ${summarize(result.inventory)}\n`);
      }
      process.exitCode = result.ok ? 0 : 1;
    });
}

/** "8 hosts (lb: lb1, lb2; web: web1, web2; …)" */
function summarize(inventory: Inventory): string {
  const perRole = ROLES.map((role) => {
    const names = inventory.hosts.filter((host) => host.roles.includes(role)).map((host) => host.name);
    return `${role}: ${names.length ? names.join(', ') : 'none'}`;
  });
  const count = inventory.hosts.length;
  return `${count} host${count === 1 ? '' : 's'} (${perRole.join('; ')})`;
}
