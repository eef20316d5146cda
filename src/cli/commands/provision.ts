import type { Command } from 'commander';
import type { ProvisionOptions } from '../actions/provision.js';
import type { GlobalOptions } from '../options.js';

export function registerProvision(program: Command): void {
  program
    .command('provision')
    .argument('<inventory>', 'the inventory YAML file')
    .description('Read every host, show what must change, and change exactly that (role by role).')
    .option('--dry-run', 'stop after showing the plan; exit 0 nothing to do, 2 changes pending, 1 error')
    .option('--out <plan>', 'plan, write the plan to this file and change nothing; apply it with infra apply PLAN (exit codes as --dry-run)')
    .option('--diff', 'show the content of new files too (changed files always show their diff)')
    .option('--forks <n>', 'hosts worked on at once (default: all)')
    .option('--wait-lock <seconds>', 'wait this long for another infra run holding a host to finish (default: refuse at once)')
    .option('--accept-new-host-keys', 'trust and record the host key of a host seen for the first time (like ssh accept-new)')
    .option(
      '--replace-host <hosts>',
      'these hosts were reinstalled: take their new host key (replacing it in known_hosts) and provision them from bare (comma separated, repeatable)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .addHelpText(
      'after',
      `
Steps: connect (one SSH connection per host) → probe (one read per host) → plan → show →
confirm → apply phase by phase (firewall and monitoring on every host, then db, app, web, lb) →
verify. Files are written atomically and validated before any reload; a plan that would cut
infra's own SSH access is refused. Exit 0 on success, 1 on any failure; with --dry-run, 0 when
nothing would change, 2 when changes are pending, 1 on error (like check).

The plan lists one line per change: a new file as its path, size, mode and owner (--diff for
its content), a changed file with its diff; packages, services, directories and firewall rules
of a phase on one line (--verbose: every resource on its own line, unchanged ones with why). It
ends with the fleet's total: "Plan: N to add, M to change, K to destroy on H hosts (U unchanged)",
U being the hosts with nothing to do.

A host reinstalled from scratch offers a new host key, which stops it as a mismatch. Once you
have checked the new key, name the host with --replace-host (host names, repeatable or comma
separated): its old lines in known_hosts are replaced by the new key, the run says so, and the
host is provisioned like a new one (a web host gets a new certificate from infra's CA). A key
pinned in the inventory (ssh.host_key) is not overridden: update the inventory instead.

Examples:
  infra provision lab/inventory.yaml --dry-run
  infra provision lab/inventory.yaml --yes
  infra provision inventory.yaml --limit web --yes
  infra provision inventory.yaml --limit 'web*:!web1' --dry-run
  infra provision inventory.yaml --out plan.json && infra apply plan.json
  infra provision inventory.yaml --replace-host web2 --yes`,
    )
    .action(async (file: string, options: ProvisionOptions, command: Command) => {
      const { provision } = await import('../actions/provision.js');
      process.exitCode = await provision(file, options, command.optsWithGlobals<GlobalOptions>());
    });
}
