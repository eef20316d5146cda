import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { PACKAGE_ROOT } from '../../core/package-root.js';

/** `infra docs`: regenerates docs/inventory.md and docs/json.schema.json; hidden, since it is for infra's own developers. */
export function registerDocs(program: Command): void {
  program
    .command('docs', { hidden: true })
    .description('Regenerate docs/inventory.md from the inventory schema and inventory.example.yaml, and docs/json.schema.json.')
    .option('--out <file>', 'where to write (default: docs/inventory.md of this checkout)')
    .action(async (options: { out?: string }) => {
      const example = await readFile(join(PACKAGE_ROOT, 'inventory.example.yaml'), 'utf8');
      const out = options.out ?? join(PACKAGE_ROOT, 'docs', 'inventory.md');
      await mkdir(dirname(out), { recursive: true });
      const { inventoryReference } = await import('../../inventory/docs.js');
      await writeFile(out, inventoryReference(example));
      process.stdout.write(`wrote ${out}\n`);
      // The --json schema is written beside the inventory reference.
      const { jsonSchemaText } = await import('../../report/json-schema.js');
      const schemaFile = join(dirname(out), 'json.schema.json');
      await writeFile(schemaFile, jsonSchemaText());
      process.stdout.write(`wrote ${schemaFile}\n`);
    });
}
