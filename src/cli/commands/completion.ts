import { Argument, type Command } from 'commander';
import { bashCompletion, zshCompletion } from '../completion.js';

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(['bash', 'zsh']))
    .description('Print a shell completion script: commands, lab subcommands, options, and files for inventory arguments.')
    .addHelpText(
      'after',
      `
The script is generated from this version of infra; regenerate it after an upgrade.

Examples:
  $ source <(infra completion bash)                                        # this shell only
  $ infra completion bash > ~/.local/share/bash-completion/completions/infra
  $ infra completion zsh > "\${fpath[1]}/_infra"                           # then: compinit`,
    )
    .action((shell: 'bash' | 'zsh') => {
      process.stdout.write(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
    });
}
