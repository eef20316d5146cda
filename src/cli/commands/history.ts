import type { Command } from 'commander';
import { UserError } from '../../core/errors.js';
import { jsonDocument } from '../../report/json.js';
import type { GlobalOptions } from '../options.js';

export function registerHistory(program: Command): void {
  program
    .command('history')
    .argument('<inventory>', 'the inventory YAML file (its state directory holds the reports)')
    .option('--last <n>', 'how many runs to list', '20')
    .description('List the last runs of provision, check, rotate-certs and rollback from their reports.')
    .addHelpText(
      'after',
      `
Every provision, check, rotate-certs and rollback writes a JSON report into <state_dir>/reports/
(its shape is documented in src/report/run-report.ts); each host a provision or rollback changed
also gets a line in its /var/log/infra/audit.log. --json prints the reports themselves.

Example:
  infra history lab/inventory.yaml --last 5`,
    )
    .action(async (file: string, options: { last: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const last = Number(options.last);
      if (!Number.isInteger(last) || last < 1) throw new UserError(`--last ${options.last}: expected a whole number of at least 1`);
      const [{ loadInventory }, { formatIssue }, { listRunReports }] = await Promise.all([
        import('../../inventory/load.js'),
        import('../../inventory/model.js'),
        import('../../report/run-report.js'),
      ]);
      const loaded = await loadInventory(file);
      if (!loaded.ok) throw new UserError(`${file} is not valid:\n${loaded.issues.map((issue) => '  ' + formatIssue(issue, file)).join('\n')}`);
      const records = await listRunReports(loaded.inventory.stateDir, last);
      if (globals.json) {
        process.stdout.write(jsonDocument('history', { records }));
        return;
      }
      if (records.length === 0) {
        process.stdout.write(`no runs recorded yet in ${loaded.inventory.stateDir}/reports\n`);
        return;
      }
      for (const record of records) {
        const changed = record.hosts.filter((host) => (host.changed ?? 0) > 0 || host.status === 'drifted');
        const failed = record.hosts.filter((host) => ['failed', 'unreachable', 'refused'].includes(host.status));
        process.stdout.write(
          `${record.startedAt}  ${record.command.padEnd(12)} ${(record.ok ? 'ok' : `exit ${record.exitCode}`).padEnd(7)} ` +
            `${record.seconds.toFixed(1).padStart(6)} s  ${record.user}@${record.controller}  ` +
            `${changed.length ? `${record.command === 'check' ? 'drifted' : 'changed'}: ${changed.map((h) => h.host).join(',')}` : 'no change'}` +
            `${failed.length ? `  failed: ${failed.map((h) => h.host).join(',')}` : ''}\n`,
        );
      }
    });
}
