import type { Command } from 'commander';
import type { GlobalOptions } from '../options.js';

export function registerDb(program: Command): void {
  const db = program.command('db').description('Database topology operations (see also: infra provision switches the primary when the inventory moves it).');
  db.command('failover')
    .argument('<inventory>', 'the inventory YAML file')
    .option('--wait-lock <seconds>', 'wait this long for another infra run holding a db host to finish (default: refuse at once)')
    .option('--to <host>', 'the replica to promote (refused if another reachable replica holds transactions it lacks)')
    .description('Promote a replica when the primary is gone; repoint the replicas and app hosts; rewrite db.primary/db.replicas in the inventory.')
    .addHelpText(
      'after',
      `
Run it when the primary cannot be reached and you decided it is gone: infra never fails over by
itself (a network blip must not make two primaries). To move a primary that still runs, change
db.primary and db.replicas in the inventory and run infra provision instead: a switchover waits
for every acknowledged write; a failover cannot, since replication is asynchronous.

Steps: read every db host (each replica first applies what it received, up to 10 s) → choose the
replica that holds every transaction the reachable ones hold (or --to, checked) → show the choice
and what may have been lost → confirm → promote it (stop replicating, take writes) → rewrite
db.primary and db.replicas in the inventory file (comments and layout kept; the old primary
becomes a replica) → provision the reachable db and app hosts: the replicas follow the new
primary, the app hosts move to it one at a time.

When the old primary comes back, infra provision makes it a read-only replica of the new one, or
refuses, naming the transactions it holds that the new primary lacks (errant GTIDs).

Exit 0 when the site's db hosts and app hosts follow the new primary, 1 otherwise.

Examples:
  infra db failover inventory.yaml
  infra db failover inventory.yaml --to db2 --yes`,
    )
    .action(async (file: string, options: { to?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const { failover } = await import('../actions/db-failover.js');
      process.exitCode = await failover(file, options, globals);
    });
}
