import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

// The same from src/cli/commands (tests) and dist/cli/commands (the built CLI).
const PACKAGE_ROOT = new URL('../../../', import.meta.url);

/** `infra docs`: regenerates docs/inventory.md; hidden, since it is for infra's own developers. */
export function registerDocs(program: Command): void {
  program
    .command('docs', { hidden: true })
    .description('Regenerate docs/inventory.md from the inventory schema and inventory.example.yaml.')
    .option('--out <file>', 'where to write (default: docs/inventory.md of this checkout)')
    .action(async (options: { out?: string }) => {
      const example = await readFile(new URL('inventory.example.yaml', PACKAGE_ROOT), 'utf8');
      const out = options.out ?? fileURLToPath(new URL('docs/inventory.md', PACKAGE_ROOT));
      await mkdir(dirname(out), { recursive: true });
      const { inventoryReference } = await import('../../inventory/docs.js');
      await writeFile(out, inventoryReference(example));
      process.stdout.write(`wrote ${out}\n`);
    });
}
