import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { redact } from '../../core/secret.js';
import { jsonDocument } from '../../report/json.js';
import type { GlobalOptions } from '../options.js';

export function registerRender(program: Command): void {
  program
    .command('render')
    .argument('<inventory>', 'the inventory YAML file')
    .requiredOption('--out <dir>', 'folder to write into, one sub-folder per host')
    .description("Write every host's rendered configuration files locally, without connecting to any host.")
    .addHelpText(
      'after',
      `
Files that hold secrets are written with their secrets shown as [secret].

Example:
  infra render inventory.yaml --out rendered/
  diff -r rendered/web1/etc/nginx /somewhere/else`,
    )
    .action(async (file: string, options: { out: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const { prepareRun } = await import('../../engine/prepare.js');
      const context = await prepareRun(file, globals.limit);
      const written: string[] = [];
      for (const desire of context.desires) {
        for (const phase of desire.phases) {
          for (const resource of phase.resources) {
            if (resource.kind !== 'file') continue;
            const content = redact(resource.content, resource.secrets ?? []);
            const target = join(options.out, desire.host, resource.path);
            await mkdir(dirname(target), { recursive: true });
            await writeFile(target, content);
            written.push(target);
          }
        }
      }
      if (globals.json) process.stdout.write(jsonDocument('render', { files: written }));
      else process.stdout.write(`wrote ${written.length} files for ${context.desires.length} hosts into ${options.out}\n`);
    });
}
