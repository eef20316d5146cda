import type { Command } from 'commander';
import { UserError } from '../../core/errors.js';
import type { GlobalOptions } from '../options.js';

export function registerApply(program: Command): void {
  program
    .command('apply')
    .argument('<plan>', 'a plan written by infra provision INVENTORY --out PLAN')
    .description('Apply exactly a saved plan, after reading every host again; refuse if anything it was made from moved.')
    .option('--forks <n>', 'hosts worked on at once (default: all)')
    .option('--wait-lock <seconds>', 'wait this long for another infra run holding a host to finish (default: refuse at once)')
    .addHelpText(
      'after',
      `
A plan saved by \`infra provision INVENTORY --out plan.json\` records infra's version, the
inventory's digest, the state directory's files, and a digest of every fact of every host it
read. apply reads the hosts again and makes the same plan: if infra, the inventory, the state or
any host moved since, it refuses and changes nothing, naming each host and what moved (a file,
a package, a service, the firewall…). Otherwise it shows the plan, asks (unless --yes) and
applies it like provision. The plan's hosts are those of the --limit it was made with.

Secrets never appear in a plan: files holding them are listed by path and rendered again at
apply from the same inventory and state. Exit 0 applied, 1 refused or failed.

Examples:
  infra provision inventory.yaml --out plan.json     # review plan.json (in a pull request…)
  infra apply plan.json --yes`,
    )
    .action(async (file: string, options: { forks?: string; waitLock?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if ((globals.limit?.length ?? 0) > 0) throw new UserError(`apply ${file}: --limit cannot be given; the plan covers the hosts it was made for`);
      const [{ readPlanFile }, { provision }] = await Promise.all([import('../plan-file.js'), import('../actions/provision.js')]);
      const plan = await readPlanFile(file);
      process.exitCode = await provision(
        plan.inventory.file,
        { forks: options.forks, waitLock: options.waitLock, saved: { file, plan } },
        { ...globals, limit: plan.limit },
      );
    });
}
