import { UserError } from '../../core/errors.js';
import { parseStatus, statusScript, type FleetStatus } from '../../check/status.js';
import { Fleet } from '../../engine/fleet.js';
import { formatIssue } from '../../inventory/model.js';
import { loadInventory } from '../../inventory/load.js';
import { jsonDocument } from '../../report/json.js';
import { prometheusUrl } from '../../roles/monitor.js';
import { hostsWithRole } from '../../roles/topology.js';
import type { GlobalOptions } from '../options.js';

export interface StatusReport extends FleetStatus {
  monitor: string;
  prometheus: string;
}

/**
 * Asks Prometheus on the first monitor host that answers, over SSH, for the fleet's figures;
 * exits 1 when no monitor host answers.
 */
export async function status(file: string, globals: GlobalOptions): Promise<StatusReport> {
  const loaded = await loadInventory(file);
  if (!loaded.ok)
    throw new UserError(`${file} is not valid:\n${loaded.issues.map((issue) => '  ' + formatIssue(issue, file)).join('\n')}`, 1, { issues: loaded.issues });
  const inventory = loaded.inventory;
  const monitors = hostsWithRole(inventory, 'monitor');
  if (monitors.length === 0)
    throw new UserError(`${file} has no host with role monitor: add one (e.g. mon1, roles: [monitor]) and provision it; infra status reads its Prometheus`);
  const failures: string[] = [];
  for (const monitor of monitors) {
    const fleet = await Fleet.connect(inventory, [monitor], { forks: 1, acceptNewHostKeys: false, replaceHostKeys: new Set() });
    try {
      const connection = fleet.connections.get(monitor.name);
      if (!connection) {
        failures.push(`${monitor.name}: ${fleet.failures.get(monitor.name)?.message ?? 'not reached'}`);
        continue;
      }
      const result = await connection.run(statusScript(monitor));
      const report: StatusReport = { monitor: monitor.name, prometheus: prometheusUrl(monitor), ...parseStatus(result.stdout) };
      process.stdout.write(globals.json ? jsonDocument('status', { ...report }) : renderStatus(report));
      return report;
    } finally {
      fleet.close();
    }
  }
  throw new UserError(`no monitor host answered:\n${failures.map((failure) => `  ${failure}`).join('\n')}`);
}

function figure(value: number | undefined, digits = 1): string {
  return value === undefined ? '–' : value.toFixed(digits);
}

function byHost(values: Record<string, number>, format: (value: number) => string): string {
  const hosts = Object.keys(values).sort();
  return hosts.length === 0 ? 'no data' : hosts.map((host) => `${host} ${format(values[host] as number)}`).join('   ');
}

/** One screen: traffic, errors, replication, certificates, scrape targets, firing alerts. */
export function renderStatus(report: StatusReport): string {
  const lines = [
    `${report.monitor}: Prometheus ${report.prometheus}`,
    `requests/s    through the VIP ${figure(report.requestsPerSecond)}   ${byHost(report.requestsPerSecondByHost, (value) => figure(value))}`,
    `5xx           ${report.errorRatio === undefined ? 'no requests in the last 5 min' : `${(report.errorRatio * 100).toFixed(2)}% of responses (last 5 min)`}`,
    `replication   ${byHost(report.replicationLagByHost, (value) => `${figure(value, 0)} s behind`)}`,
    `certificate   ${byHost(report.certificateDaysByHost, (value) => `${Math.floor(value)} days left`)}`,
    `targets       ${figure(report.targetsUp, 0)}/${figure(report.targets, 0)} up`,
    `alerts        ${report.alerts.length === 0 ? 'none firing' : `${report.alerts.length} firing`}`,
    ...report.alerts.map((alert) => `  ${alert.severity.padEnd(8)} ${alert.name}${alert.host ? ` (${alert.host})` : ''}: ${alert.summary}`),
    ...report.problems.map((problem) => `not read: ${problem}`),
  ];
  return `${lines.join('\n')}\n`;
}
