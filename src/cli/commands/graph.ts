import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UserError } from '../../core/errors.js';
import { formatIssue } from '../../inventory/model.js';
import { colorsFor } from '../color.js';
import { jsonDocument } from '../../report/json.js';
import type { GlobalOptions } from '../options.js';

export function registerGraph(program: Command): void {
  program
    .command('graph')
    .argument('<inventory>', 'the inventory YAML file')
    .option('--mermaid <file>', 'also write the topology as a Mermaid flowchart to this file')
    .description("Show the topology: tiers, VIP, the flows between tiers with their ports, and every host's firewall openings.")
    .addHelpText(
      'after',
      `
Reads only the inventory (no host is contacted). The ports come from the roles, so the picture
is what provision opens. With --json, prints {tiers, flows, hosts:[{openings}], …}.

Examples:
  $ infra graph inventory.yaml
  DNS          www.foobar.com A 10.0.0.100
    │ tcp 80, 443  clients, by the A record
    ▼
  VIP          10.0.0.100/24 keepalived VRRP: lb1 master, lb2 backup
  …
  $ infra graph inventory.yaml --mermaid topology.mmd    # render with mermaid-cli or on GitHub`,
    )
    .action(async (file: string, options: { mermaid?: string }, command: Command) => {
      const { json } = command.optsWithGlobals<GlobalOptions>();
      const [{ loadInventory }, { buildGraph }, { renderGraphText, renderMermaid }] = await Promise.all([
        import('../../inventory/load.js'),
        import('../../roles/graph.js'),
        import('../graph.js'),
      ]);
      const result = await loadInventory(file);
      if (!result.ok) {
        throw new UserError(`${file} is not a valid inventory:\n${result.issues.map((issue) => formatIssue(issue, file)).join('\n')}`);
      }
      const graph = buildGraph(result.inventory, file);
      if (options.mermaid) await writeFile(options.mermaid, renderMermaid(graph));
      if (json) process.stdout.write(jsonDocument('graph', { ...graph }));
      else process.stdout.write(renderGraphText(graph, colorsFor(process.stdout)));
      if (options.mermaid && !json) process.stderr.write(`wrote ${options.mermaid}\n`);
    });
}
