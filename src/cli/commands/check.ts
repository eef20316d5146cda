import type { Command } from 'commander';
import type { CheckOptions } from '../actions/check.js';
import type { GlobalOptions } from '../options.js';

const EXIT_HELP = `
Exit codes (like terraform plan -detailed-exitcode, for CI):
  0  no drift: every host is what the inventory says
  2  drift: something differs (details per host and role; --json for data)
  1  error: a bad inventory, or a host that could not be read (the others are still checked)

What is compared: managed files (content, mode, owner; unified diff with secrets redacted),
packages, services (running, enabled), ufw rules (missing, and rules infra did not write),
reloads left pending by a failed run; and what configuration alone cannot show: replicas
replicating and not lagging, exactly one lb host holding the VIP, haproxy's web servers UP,
the certificate nginx serves equal to the deployed one and the one served through the VIP,
certificates expiring soon; on a monitor host, the alerts its Prometheus has firing. check never
changes anything on any host.

--json prints {exitCode, seconds, hosts: [{host, status: ok|drifted|unreachable, error?,
drift: [{phase, kind: resource|health|pending-handler|foreign-rule, subject, message, diff?}]}],
fleet: [drift items]}.

Examples:
  infra check lab/inventory.yaml
  infra check inventory.yaml --json --expiring-within 30 || alert`;

export function registerCheck(program: Command): void {
  program
    .command('check')
    .argument('<inventory>', 'the inventory YAML file')
    .description('Report drift between the hosts and the inventory, changing nothing; exit 0 no drift, 2 drift, 1 error.')
    .option('--expiring-within <days>', 'report certificates that expire within this many days', '21')
    .option('--forks <n>', 'hosts read at once (default: all)')
    .addHelpText('after', EXIT_HELP)
    .action(async (file: string, options: CheckOptions, command: Command) => {
      const { check } = await import('../actions/check.js');
      const report = await check(file, options, command.optsWithGlobals<GlobalOptions>());
      process.exitCode = report.exitCode;
    });
}
