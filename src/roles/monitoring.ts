import { quoteWord } from '../core/shell.js';
import type { PhaseDesire } from '../core/types.js';
import type { Host, Inventory } from '../inventory/model.js';
import { NODE_EXPORTER_PORT } from '../inventory/ports.js';
import { renderTemplate } from './render.js';

const NODE_EXPORTER = 'prometheus-node-exporter';
const NODE_EXPORTER_DEFAULTS = '/etc/default/prometheus-node-exporter';
/** Where the roles leave metrics for the node exporter to serve (`*.prom`); the package makes it. */
export const TEXTFILE_DIR = '/var/lib/prometheus/node-exporter';

/** The monitoring agent on every host: node exporter on the host's address, restarted when its options change. */
export function monitoringPhase(inventory: Inventory, host: Host): PhaseDesire {
  const restart = `restart:${NODE_EXPORTER}`;
  return {
    phase: 'monitoring',
    resources: [
      { kind: 'package', name: NODE_EXPORTER },
      { kind: 'package', name: 'curl' },
      {
        kind: 'file',
        path: NODE_EXPORTER_DEFAULTS,
        content: renderTemplate(
          'monitoring/prometheus-node-exporter.default.ejs',
          { address: host.address, port: NODE_EXPORTER_PORT, textfileDir: TEXTFILE_DIR, vars: host.vars },
          inventory.templatesDir,
        ),
        mode: '0644',
        owner: 'root',
        group: 'root',
        notify: [restart],
      },
      { kind: 'service', name: NODE_EXPORTER, enabled: true, running: true },
    ],
    handlers: [
      {
        id: restart,
        service: NODE_EXPORTER,
        action: 'restart',
        healthCheck: `curl -fsS -o /dev/null ${quoteWord(`http://${host.address}:${NODE_EXPORTER_PORT}/metrics`)}`,
      },
    ],
    validators: [
      {
        // The exporter has no config check of its own; parsing its flags is what can fail, so the
        // options are parsed with --help, which exits before serving.
        name: 'node exporter options',
        script: `. ${NODE_EXPORTER_DEFAULTS} && ${NODE_EXPORTER} $ARGS --help >/dev/null`,
      },
    ],
  };
}
