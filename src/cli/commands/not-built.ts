import type { Command } from 'commander';
import { UserError } from '../../core/errors.js';

/** Commands that exist in the interface but are not built yet: they say so and exit 1, never pretend. */
export function registerNotBuilt(program: Command): void {
  program
    .command('check')
    .argument('<inventory>', 'the inventory YAML file')
    .description('Report drift between the hosts and the inventory without changing anything (not built yet).')
    .addHelpText('after', '\nExit codes (Terraform plan -detailed-exitcode): 0 no drift, 2 drift, 1 error.\n\nExample:\n  infra check inventory.yaml')
    .action(() => {
      throw new UserError('`infra check` is not built yet (issue 5). Use `infra provision INVENTORY --dry-run` to see what differs.');
    });
  program
    .command('rotate-certs')
    .argument('<inventory>', 'the inventory YAML file')
    .description('Replace the web tier\'s TLS certificates host by host with no failed request (not built yet).')
    .addHelpText('after', '\nExample:\n  infra rotate-certs inventory.yaml --dry-run')
    .action(() => {
      throw new UserError('`infra rotate-certs` is not built yet (issue 6).');
    });
}
