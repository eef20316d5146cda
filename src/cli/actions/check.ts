import { connect as tlsConnect } from 'node:tls';
import { UserError } from '../../core/errors.js';
import { hostDrift, vipCertificateDrift, vipHolderDrift, type DriftItem } from '../../check/drift.js';
import { dbReadings, probeAndPlan } from '../../engine/run.js';
import { dbTopologyDrift } from '../../db/replication.js';
import { INFRA_VERSION, operator, saveRunReport } from '../../report/run-report.js';
import { prepareConnectedRun } from '../../engine/prepare.js';
import { Progress } from '../progress.js';
import { passphrasePrompt } from '../passphrase.js';
import { hostColumnWidth } from '../columns.js';
import { ROLE } from '../../inventory/model.js';
import { jsonDocument } from '../../report/json.js';
import { parseForks, type GlobalOptions } from '../options.js';

export interface CheckOptions {
  expiringWithin: string;
  forks?: string;
}

export interface HostCheckReport {
  host: string;
  status: 'ok' | 'drifted' | 'unreachable';
  error?: string;
  drift: DriftItem[];
}

export interface CheckReport {
  exitCode: 0 | 1 | 2;
  seconds: number;
  hosts: HostCheckReport[];
  /** Drift no single host shows: the VIP's holders, the certificate served through the VIP. */
  fleet: DriftItem[];
}

/** The certificate a client gets through the VIP, by a TLS handshake with the domain as SNI. */
function vipFingerprint(vip: string, domain: string): Promise<{ fingerprint?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: vip, port: 443, servername: domain, rejectUnauthorized: false, timeout: 5000 }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve({ fingerprint });
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve({ error: 'timed out' });
    });
    socket.on('error', (err) => resolve({ error: err.message }));
  });
}

export async function check(file: string, options: CheckOptions, globals: GlobalOptions): Promise<CheckReport> {
  const expiryWarningDays = Number(options.expiringWithin);
  if (!Number.isInteger(expiryWarningDays) || expiryWarningDays < 0)
    throw new UserError(`--expiring-within ${options.expiringWithin}: expected a whole number of days`);
  const started = Date.now();
  const requestedForks = parseForks(options.forks);
  const progress = await Progress.create(!globals.json && !globals.quiet);
  progress.start('reading the inventory and connecting');
  const { context, fleet, forks } = await prepareConnectedRun(file, globals.limit, {
    forks: requestedForks,
    acceptNewHostKeys: false,
    askPassphrase: passphrasePrompt(progress),
    onEvent: (event) => progress.prepareEvent(event),
  }).catch((err: unknown) => {
    progress.stop();
    throw err;
  });
  try {
    const inventory = context.inventory;
    const needsVipCheck = inventory.vip !== undefined && context.hosts.some((host) => host.roles.includes(ROLE.web));
    const [{ probes, failures }, viaVip] = await Promise.all([
      probeAndPlan(fleet, context.desires, forks, { health: true }),
      needsVipCheck ? vipFingerprint(inventory.vip as string, inventory.domain) : Promise.resolve(undefined),
    ]);
    progress.stop();
    const healthContext = { now: new Date(), expiryWarningDays };
    const hosts: HostCheckReport[] = [];
    const lbObservations = new Map<string, Record<string, string> | undefined>();
    const deployedCertificates: string[] = [];
    for (const desire of context.desires) {
      const failure = fleet.failures.get(desire.host) ?? failures.get(desire.host);
      const probe = probes.get(desire.host);
      if (failure || !probe) {
        hosts.push({ host: desire.host, status: 'unreachable', error: failure?.message ?? 'not read', drift: [] });
        continue;
      }
      const drift = hostDrift(desire, probe.plan, probe.facts, healthContext);
      if (desire.phases.some((phase) => phase.phase === ROLE.lb)) lbObservations.set(desire.host, drift.observations['load balancer']);
      const deployed = drift.observations.certificate?.fingerprint;
      if (deployed) deployedCertificates.push(deployed);
      hosts.push({ host: desire.host, status: drift.items.length > 0 ? 'drifted' : 'ok', drift: drift.items });
    }
    // The VIP's holders can be judged only when every lb host was read.
    const allLbsRead = context.inventory.hosts.filter((h) => h.roles.includes(ROLE.lb)).every((h) => lbObservations.has(h.name));
    const fleetDrift = [
      ...(allLbsRead ? vipHolderDrift(inventory.vip, lbObservations) : []),
      ...(viaVip && deployedCertificates.length > 0 ? vipCertificateDrift(viaVip.fingerprint, deployedCertificates, viaVip.error) : []),
      ...dbTopologyDrift(dbReadings(context.desires, probes)).map((message): DriftItem => ({
        phase: 'fleet',
        kind: 'health',
        subject: 'db replication',
        message,
      })),
    ];
    const unreachable = hosts.some((host) => host.status === 'unreachable');
    const drifted = fleetDrift.length > 0 || hosts.some((host) => host.status === 'drifted');
    const report: CheckReport = { exitCode: unreachable ? 1 : drifted ? 2 : 0, seconds: (Date.now() - started) / 1000, hosts, fleet: fleetDrift };
    process.stdout.write(globals.json ? jsonDocument('check', { ...report }) : renderCheck(report, { quiet: Boolean(globals.quiet) }));
    await saveRunReport(inventory.stateDir, {
      command: 'check',
      startedAt: new Date(started).toISOString(),
      seconds: report.seconds,
      ok: report.exitCode === 0,
      exitCode: report.exitCode,
      ...operator(),
      version: INFRA_VERSION,
      inventory: inventory.file,
      hosts: hosts.map((host) => ({ host: host.host, status: host.status, error: host.error })),
      details: { hosts: report.hosts, fleet: report.fleet },
    });
    return report;
  } finally {
    progress.stop();
    fleet.close();
  }
}

/** The check as text; `quiet` leaves out the hosts that are fine, and everything when all are. */
export function renderCheck(report: CheckReport, options: { quiet?: boolean } = {}): string {
  if (options.quiet && report.exitCode === 0) return '';
  const lines: string[] = [];
  const width = hostColumnWidth(report.hosts.map((host) => host.host));
  for (const host of report.hosts.filter((h) => !options.quiet || h.status !== 'ok')) {
    const detail = host.status === 'drifted' ? ` (${host.drift.length})` : host.status === 'unreachable' ? `: ${host.error}` : '';
    lines.push(`${host.host.padEnd(width)} ${host.status}${detail}`);
  }
  for (const host of report.hosts.filter((h) => h.drift.length > 0)) {
    lines.push('', host.host);
    for (const item of host.drift) {
      lines.push(`  ${item.phase}: ${item.subject}: ${item.message}`);
      if (item.diff)
        lines.push(
          ...item.diff
            .split('\n')
            .slice(2)
            .filter(Boolean)
            .map((line) => `      ${line}`),
        );
    }
  }
  if (report.fleet.length > 0) {
    lines.push('', 'across hosts');
    for (const item of report.fleet) lines.push(`  ${item.subject}: ${item.message}`);
  }
  const verdict = report.exitCode === 0 ? 'no drift' : report.exitCode === 2 ? 'drift' : 'error: some hosts could not be read';
  lines.push('', `${verdict} (${report.seconds.toFixed(2)} s)`);
  return lines.join('\n') + '\n';
}
