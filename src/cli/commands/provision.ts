import type { Command } from 'commander';
import type { ProvisionOptions } from '../actions/provision.js';
import type { GlobalOptions } from '../main.js';

export function registerProvision(program: Command): void {
  program
    .command('provision')
    .argument('<inventory>', 'the inventory YAML file')
    .description('Read every host, show what must change, and change exactly that (role by role).')
    .option('--dry-run', 'stop after showing the plan')
    .option('--forks <n>', 'hosts worked on at once (default: all)')
    .option('--accept-new-host-keys', 'trust and record the host key of a host seen for the first time (like ssh accept-new)')
    .addHelpText(
      'after',
      `
Steps: connect (one SSH connection per host) → probe (one read per host) → plan → show →
confirm → apply phase by phase (firewall and monitoring on every host, then db, app, web, lb) →
verify. Files are written atomically and validated before any reload; a plan that would cut
infra's own SSH access is refused. Exit 0 on success, 1 on any failure.

Examples:
  infra provision lab/inventory.yaml --dry-run
  infra provision lab/inventory.yaml --yes
  infra provision inventory.yaml --limit web --yes`,
    )
    .action(async (file: string, options: ProvisionOptions, command: Command) => {
      const { provision } = await import('../actions/provision.js');
      process.exitCode = await provision(file, options, command.optsWithGlobals<GlobalOptions>());
    });
}
