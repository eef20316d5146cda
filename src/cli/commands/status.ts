import type { Command } from 'commander';
import type { GlobalOptions } from '../options.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .argument('<inventory>', 'the inventory YAML file')
    .description('One screen from Prometheus on a monitor host: requests per second, 5xx ratio, replication lag, certificate days left, firing alerts.')
    .addHelpText(
      'after',
      `
Needs a host with role monitor, provisioned. Prometheus is asked on that host, through infra's
SSH connection, so only SSH needs to reach it. Requests are those nginx logged on the web hosts
(all come through the lb tier and the VIP), per second over the last minute. --json prints the
same figures as data.

Example:
  $ infra status lab/inventory.yaml
  mon1: Prometheus http://10.77.0.51:9090
  requests/s    through the VIP 48.7   web1 24.4   web2 24.3
  5xx           0.00% of responses (last 5 min)
  replication   db2 0 s behind
  certificate   web1 89 days left   web2 89 days left
  targets       20/20 up
  alerts        none firing`,
    )
    .action(async (file: string, _options: unknown, command: Command) => {
      const { status } = await import('../actions/status.js');
      await status(file, command.optsWithGlobals<GlobalOptions>());
    });
}
