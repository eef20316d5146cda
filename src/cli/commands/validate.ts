import type { Command } from 'commander';
import { formatIssue, ROLES, type Inventory } from '../../inventory/model.js';
import { jsonDocument } from '../../report/json.js';
import type { GlobalOptions } from '../options.js';

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
primary that is not a db host, secrets written in clear, and so on; then that every local file
and folder it names exists and is readable (app.source, templates_dir, TLS files, SSH keys,
secrets read from files), at the line that names it. Exit code 0 when the inventory is valid,
1 otherwise. Warnings (a source open to the whole internet) are printed and do not change the
exit code. With --json, prints {"format_version", "command", "ok", "exitCode", "issues": [...],
"warnings": [...]}.

Example:
  $ infra validate inventory.yaml
  inventory.yaml:14:7 hosts.web1.roles[0]: unknown role "wbe" (expected lb, web, app, db)`,
    )
    .action(async (file: string, _options: unknown, command: Command) => {
      const { json } = command.optsWithGlobals<GlobalOptions>();
      const [{ loadInventory }, { namedFileIssues }] = await Promise.all([import('../../inventory/load.js'), import('../inventory-files.js')]);
      const loaded = await loadInventory(file);
      // Files the inventory names are checked once it is valid: their paths are known only then.
      const issues = loaded.ok ? await namedFileIssues(loaded.inventory) : loaded.issues;
      const ok = issues.length === 0;
      if (json) {
        process.stdout.write(jsonDocument('validate', { ok, exitCode: ok ? 0 : 1, issues, warnings: loaded.warnings }));
      } else {
        // The path as the operator typed it, so that editors and terminals can jump to it.
        for (const issue of issues) process.stdout.write(`${formatIssue(issue, file)}\n`);
        for (const warning of loaded.warnings) process.stdout.write(`${formatIssue(warning, file, 'warning')}\n`);
        if (ok && loaded.ok) process.stdout.write(`ok: ${summarize(loaded.inventory)}\n`);
      }
      process.exitCode = ok ? 0 : 1;
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
