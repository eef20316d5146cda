import type { Command } from 'commander';
import { hostColumnWidth } from '../columns.js';
import { jsonDocument } from '../../report/json.js';
import type { GlobalOptions } from '../options.js';

const AFTERWARDS =
  'infra check now reports the rolled-back hosts as drifted, and infra provision deploys the release\n' +
  'of app.source again (rolls forward), until app.source holds the release you want.';

export function registerRollback(program: Command): void {
  program
    .command('rollback')
    .argument('<inventory>', 'the inventory YAML file')
    .description('Put the previous app release back on every app host, one host at a time.')
    .addHelpText(
      'after',
      `
Each app host records in /opt/app/releases/.history the releases in the order they became
current. "Previous" is the newest release in that history other than the current one; the
rollback is recorded too, so a second rollback goes forward again. A host with no previous
release (or whose previous release was removed) is refused, and then nothing changes anywhere.

Steps: connect → read each app host's releases → show host: current → previous → confirm →
then, one app host at a time as a deploy does: point /opt/app/current at the previous release,
restart the app, wait for its /health, and wait for nginx to take it back before the next host.
The run stops at the first host that fails.

${AFTERWARDS}

Exit 0 when every app host was rolled back, 1 on a refusal or a failure.

Examples:
  infra rollback inventory.yaml
  infra rollback inventory.yaml --yes
  infra rollback inventory.yaml --limit app1 --yes --json`,
    )
    .action(async (file: string, _options: object, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const [{ selectRun }, { prepareRollback, applyRollback }, { confirmed }, { Progress }, { passphrasePrompt }] = await Promise.all([
        import('../../engine/prepare.js'),
        import('../../rollback/run.js'),
        import('../confirm.js'),
        import('../progress.js'),
        import('../passphrase.js'),
      ]);
      const { inventory, hosts } = await selectRun(file, globals.limit);
      const progress = await Progress.create(!globals.json && !globals.quiet, Boolean(globals.verbose));
      progress.start('reading the releases of the app hosts');
      const prepared = await prepareRollback(inventory, hosts, passphrasePrompt(progress)).finally(() => progress.stop());
      try {
        const width = hostColumnWidth(prepared.decisions.map((decision) => decision.host));
        const plan = prepared.decisions.map((decision) => `${decision.host.padEnd(width)} ${decision.from} → ${decision.to}`).join('\n');
        // --quiet still shows what is about to change when it asks for confirmation.
        if (!globals.json && (!globals.quiet || !globals.yes)) process.stdout.write(`${plan}\n\n`);
        if (!(await confirmed(globals, `Roll back ${prepared.decisions.length} app host(s), one at a time?`, 'roll back'))) {
          process.exitCode = 1;
          return;
        }
        progress.start('rolling back');
        const { outcomes, warnings } = await applyRollback(prepared, (event) => progress.event(event)).finally(() => progress.stop());
        for (const warning of warnings) process.stderr.write(`infra: ${warning}\n`);
        const ok = outcomes.every((outcome) => outcome.status === 'rolled-back');
        if (globals.json) {
          process.stdout.write(jsonDocument('rollback', { ok, hosts: outcomes }));
        } else if (!globals.quiet || !ok) {
          const lines = outcomes
            .filter((outcome) => !globals.quiet || outcome.status !== 'rolled-back')
            .map((outcome) => {
              const line = `${outcome.host.padEnd(12)} ${outcome.status.padEnd(12)} ${outcome.from} → ${outcome.to}`;
              return outcome.error ? `${line}\n    ${outcome.error.replace(/\n/g, '\n    ')}` : line;
            });
          const counts = (['rolled-back', 'failed', 'not-reached'] as const)
            .map((status) => `${outcomes.filter((outcome) => outcome.status === status).length} ${status}`)
            .join(', ');
          const tail = ok ? AFTERWARDS : 'The run stopped at the failed host; the hosts after it were not changed.';
          process.stdout.write(`${lines.join('\n')}\n\n${counts}.\n${tail}\n`);
        }
        process.exitCode = ok ? 0 : 1;
      } finally {
        prepared.fleet.close();
      }
    });
}
