import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { UserError } from '../../core/errors.js';
import { buildSavedPlan, savedPlanRefusals, type SavedPlan } from '../../report/saved-plan.js';
import { stateListing, writePlanFile } from '../plan-file.js';
import type { HostPlan } from '../../core/types.js';
import { resourceLabel } from '../../resources/index.js';
import { applyPlans, probeAndPlan, type HostProbe, type HostReport } from '../../engine/run.js';
import { Fleet } from '../../engine/fleet.js';
import { lockFleet, parseWaitLock, takeoverWarning, type FleetLock } from '../../engine/lock.js';
import { hasPendingWork, notConverged, planToJson, planTotal, renderHostPlan } from '../../plan/render.js';
import { jsonDocument } from '../../report/json.js';
import { appendAuditScript, auditLine, INFRA_VERSION, operator, saveRunReport, type RunRecord } from '../../report/run-report.js';
import { describeReplacement, type AcceptedHostKey } from '../../transport/hostkeys.js';
import { connectionStats } from '../../transport/ssh.js';
import { prepareConnectedRun, type RunContext } from '../../engine/prepare.js';
import { colorEnabled } from '../color.js';
import { hostColumnWidth } from '../columns.js';
import { ROLE } from '../../inventory/model.js';
import { prometheusUrl } from '../../roles/monitor.js';
import { hostsWithRole } from '../../roles/topology.js';
import { confirmed } from '../confirm.js';
import { Progress } from '../progress.js';
import { passphrasePrompt } from '../passphrase.js';
import { parseForks, type GlobalOptions } from '../options.js';

export interface ProvisionOptions {
  dryRun?: boolean;
  /** Show the content of new files too. */
  diff?: boolean;
  forks?: string;
  acceptNewHostKeys?: boolean;
  replaceHost?: string[];
  /** Plan, write the plan to this file, and apply nothing (like --dry-run). */
  out?: string;
  /** A plan saved by --out: apply exactly it, or refuse when anything it was made from moved. */
  saved?: { file: string; plan: SavedPlan };
  /** Seconds to wait for another run's lock on a host (default: refuse at once). */
  waitLock?: string;
}

function hostReportLine(report: HostReport, width: number): string {
  const seconds = (report.ms / 1000).toFixed(1);
  const head = `${report.host.padEnd(width)} ${report.status.padEnd(11)} ${report.changed} changed, ${report.unchanged} ok  ${seconds}s`;
  return report.error ? `${head}\n    ${report.error.replace(/\n/g, '\n    ')}` : head;
}

export async function provision(file: string, options: ProvisionOptions, globals: GlobalOptions): Promise<number> {
  if (options.out && (options.replaceHost?.length ?? 0) > 0) {
    throw new UserError(
      '--out with --replace-host: a host taken back gets a new certificate each run, so its plan could never be applied as saved; provision it first',
    );
  }
  const started = Date.now();
  const command = options.saved ? 'apply' : 'provision';
  const dryRun = Boolean(options.dryRun || options.out);
  const requestedForks = parseForks(options.forks);
  const waitLockSeconds = parseWaitLock(options.waitLock);
  const progress = await Progress.create(!globals.json && !globals.quiet, Boolean(globals.verbose));
  progress.start('reading the inventory and connecting');
  const hostKeys: { host: string; verdict: AcceptedHostKey }[] = [];
  const { context, fleet, forks } = await prepareConnectedRun(file, globals.limit, {
    forks: requestedForks,
    acceptNewHostKeys: Boolean(options.acceptNewHostKeys),
    replaceHosts: options.replaceHost,
    askPassphrase: passphrasePrompt(progress),
    onEvent: (event) => {
      if (event.type === 'host-key-replaced') hostKeys.push({ host: event.host, verdict: event.verdict });
      else progress.prepareEvent(event);
    },
  }).catch((err: unknown) => {
    progress.stop();
    throw err;
  });
  let lock: FleetLock | undefined;
  try {
    // Said even with --quiet: taking a new host key is a decision on trust, and goes on record.
    if (!globals.json && hostKeys.length > 0) {
      progress.stop();
      process.stdout.write(hostKeys.map(({ host, verdict }) => describeReplacement(host, verdict) + '\n').join(''));
      progress.start('reading hosts');
    } else {
      progress.update('reading hosts');
    }
    const { probes, failures } = await probeAndPlan(fleet, context.desires, forks);
    progress.stop();
    const reports = new Map<string, HostReport>();
    for (const [host, error] of [...fleet.failures, ...failures]) {
      reports.set(host, { host, status: 'unreachable', changed: 0, unchanged: 0, phases: [], ms: 0, error: error.message });
    }
    const plans = new Map([...probes].map(([host, probe]) => [host, probe.plan]));
    const saving = options.out || options.saved ? await savedPlanOf(context, probes, globals.limit) : undefined;
    if (options.saved && saving) {
      const unread = [...fleet.failures, ...failures].map(([host, error]) => `${host}: could not be read (${error.message.split('\n')[0]})`);
      const moved = savedPlanRefusals(options.saved.plan, saving).filter((line) => !unread.some((u) => line.startsWith(`${u.split(':')[0]}:`)));
      const refusals = [...unread, ...moved];
      if (refusals.length > 0) {
        throw new UserError(
          `${options.saved.file} cannot be applied as it was reviewed; nothing was changed:\n${refusals.map((line) => `  ${line}`).join('\n')}\n` +
            `Make and review a new plan: infra provision ${context.inventory.file} --out ${options.saved.file}`,
          1,
          { refusals },
        );
      }
    }
    const refused = [...plans.values()].filter((plan) => plan.refusal);
    const pendingWork = [...plans.values()].some(hasPendingWork);
    // A run with changes to make holds the hosts' lock from before it shows them until it is done;
    // a run with nothing to do takes none, and costs nothing more. Its plan was read just before:
    // each step is checked again on the host as it runs (a command's guard, a file's content).
    if (pendingWork && refused.length === 0 && !dryRun) {
      lock = await lockFleet(
        fleet,
        context.hosts.map((host) => host.name),
        { command, waitSeconds: waitLockSeconds, forks },
      );
      for (const { host, leftBy } of lock.takenOver) {
        process.stderr.write(`${takeoverWarning(host, leftBy)}: check what it left undone in this plan\n`);
      }
    }
    // --quiet still shows a refused plan (why nothing happened) and a plan the operator is asked
    // to confirm: nobody should approve changes they were not shown.
    const asksToConfirm = pendingWork && refused.length === 0 && !dryRun && !globals.yes;
    if (!globals.json) {
      const shown = printPlans(context, plans, { ...globals, diff: options.diff }, (plan) => !globals.quiet || asksToConfirm || plan.refusal !== undefined);
      // The fleet's total closes the plan, before any question; a dry run's output ends with it.
      if (shown && !dryRun) process.stdout.write(`${planTotal(orderedPlans(context, plans))}\n`);
    }
    let applied: Map<string, HostReport> | undefined;
    if (refused.length > 0) {
      for (const plan of refused)
        reports.set(plan.host, { host: plan.host, status: 'refused', changed: 0, unchanged: 0, phases: [], ms: 0, error: plan.refusal });
      if (!globals.json) process.stderr.write(`infra: nothing was changed on any host: ${refused.length} plan(s) refused (see above)\n`);
    } else if (pendingWork && !dryRun) {
      if (!(await confirmed(globals, 'Apply these changes?', 'apply this plan'))) return 1;
      progress.start('applying');
      applied = await applyPlans(fleet, context.desires, plans, { forks, onEvent: (event) => progress.event(event) });
      progress.stop();
    }
    for (const [host, plan] of plans) {
      if (reports.has(host)) continue;
      const changed = plan.changes.filter((c) => c.action !== 'noop').length;
      reports.set(
        host,
        applied?.get(host) ?? { host, status: 'ok', changed: dryRun ? changed : 0, unchanged: plan.changes.length - changed, phases: [], ms: 0 },
      );
    }
    if (applied) await verifyConverged(fleet, context, forks, reports);
    const ordered = context.hosts.map((host) => reports.get(host.name)).filter((r): r is HostReport => r !== undefined);
    const ok = ordered.every((r) => r.status === 'ok' || r.status === 'changed');
    // A dry run answers like check: 0 nothing to do, 2 changes pending, 1 an error.
    let exitCode = !ok ? 1 : dryRun && pendingWork ? 2 : 0;
    // A plan is saved only whole: every host read and none refused, or apply could not take it.
    let savedTo: string | undefined;
    if (options.out && saving) {
      if (ok) {
        await writePlanFile(options.out, saving);
        savedTo = options.out;
      } else {
        exitCode = 1;
        process.stderr.write(`infra: --out ${options.out}: not written: some hosts could not be read or were refused (see below)\n`);
      }
    }
    const width = hostColumnWidth(ordered.map((r) => r.host));
    const seconds = (Date.now() - started) / 1000;
    const record: RunRecord = {
      command,
      startedAt: new Date(started).toISOString(),
      seconds,
      ok,
      exitCode,
      ...operator(),
      version: INFRA_VERSION,
      inventory: context.inventory.file,
      hosts: ordered.map((r) => ({ host: r.host, status: r.status, changed: r.changed, error: r.error })),
      details: {
        dryRun,
        savedTo,
        appliedFrom: options.saved?.file,
        hostKeys,
        plans: Object.fromEntries([...plans].map(([host, plan]) => [host, planToJson(plan)])),
      },
    };
    if (applied) await writeAuditLines(fleet, record, plans, ordered);
    await saveRunReport(context.inventory.stateDir, record);
    if (globals.json) {
      const plansJson = Object.fromEntries([...plans].map(([host, plan]) => [host, planToJson(plan)]));
      process.stdout.write(
        jsonDocument(command, {
          ok,
          exitCode,
          dryRun,
          savedTo,
          appliedFrom: options.saved?.file,
          seconds,
          connections: connectionStats.opened,
          hosts: ordered,
          hostKeys,
          plans: plansJson,
        }),
      );
    } else if (globals.quiet) {
      for (const report of ordered.filter((r) => r.status !== 'ok' && r.status !== 'changed')) process.stdout.write(hostReportLine(report, width) + '\n');
      if (dryRun && pendingWork) process.stdout.write(`${planTotal(orderedPlans(context, plans))}\n`);
    } else if (dryRun) {
      // The plans above already say what each host would get: only the hosts that were not
      // planned are listed, and the fleet's total ends the output.
      for (const report of ordered.filter((r) => r.status !== 'ok' && r.status !== 'changed')) process.stdout.write(hostReportLine(report, width) + '\n');
      const saved = savedTo ? `; the plan is in ${savedTo}: apply it with infra apply ${savedTo}` : '';
      process.stdout.write(
        `\nNothing was changed (${options.out ? '--out' : '--dry-run'}; ${seconds.toFixed(1)}s${saved}).\n${planTotal(orderedPlans(context, plans))}\n`,
      );
    } else {
      process.stdout.write(`\nSummary (${seconds.toFixed(1)}s):\n`);
      for (const report of ordered) process.stdout.write(hostReportLine(report, width) + '\n');
      const changedTotal = ordered.reduce((sum, r) => sum + (r.status === 'changed' ? r.changed : 0), 0);
      process.stdout.write(`${changedTotal} change(s) on ${ordered.length} host(s).\n`);
      if (ok && !dryRun) process.stdout.write(siteSummary(context.inventory));
    }
    return exitCode;
  } finally {
    progress.stop();
    await lock?.release();
    fleet.close();
  }
}

/**
 * Each host that changed gets a line in its audit log: when, who from where, infra's version and
 * which resources changed. A host whose log cannot be written is reported, not failed.
 */
async function writeAuditLines(fleet: Fleet, record: RunRecord, plans: ReadonlyMap<string, HostPlan>, reports: readonly HostReport[]): Promise<void> {
  await Promise.all(
    reports
      .filter((report) => report.status === 'changed' || (report.status === 'failed' && report.changed > 0))
      .map(async (report) => {
        const connection = fleet.connections.get(report.host);
        const plan = plans.get(report.host);
        if (!connection || !plan) return;
        const changes = [
          ...plan.changes.filter((change) => change.action !== 'noop').map((change) => `${change.action} ${resourceLabel(change.resource)}`),
          ...report.phases.flatMap((phase) => phase.handlers),
        ];
        const result = await connection
          .run(appendAuditScript(auditLine(record, connection.localAddress, changes)))
          .catch((err: Error) => ({ code: 1, stdout: '', stderr: err.message }));
        if (result.code !== 0) process.stderr.write(`infra: ${report.host}: the audit log could not be written: ${result.stderr.trim()}\n`);
      }),
  );
}

/** A path as short as it can be said from here: relative when it is under the current folder. */
function shownPath(path: string): string {
  const fromHere = relative(process.cwd(), path);
  return fromHere && !fromHere.startsWith('..') && !isAbsolute(fromHere) ? fromHere : path;
}

/**
 * How to reach the site: the DNS record to publish and a command that tries it before DNS does;
 * and where to look at it, Prometheus's UI on each monitor host.
 */
function siteSummary(inventory: RunContext['inventory']): string {
  const monitors = hostsWithRole(inventory, ROLE.monitor).map(
    (host) => `Monitoring: ${prometheusUrl(host)}  (Prometheus on ${host.name}, for the admin sources; infra status ${shownPath(inventory.file)})\n`,
  );
  if (!inventory.vip || !inventory.hosts.some((host) => host.roles.includes(ROLE.web))) return monitors.length > 0 ? `\n${monitors.join('')}` : '';
  const ca = inventory.tls.kind === 'ca' ? `--cacert ${shownPath(join(inventory.stateDir, 'ca', 'ca.crt'))} ` : '';
  return (
    `\nDNS: publish ${inventory.domain}. A ${inventory.vip}\n` +
    `Site: https://${inventory.domain}/  (before DNS: curl ${ca}--resolve ${inventory.domain}:443:${inventory.vip} https://${inventory.domain}/)\n` +
    monitors.join('')
  );
}

/** This run's plan as a saved plan: from it --out writes the file, and apply compares it with the saved one. */
async function savedPlanOf(context: RunContext, probes: ReadonlyMap<string, HostProbe>, limit: readonly string[] | undefined): Promise<SavedPlan> {
  const inventoryText = await readFile(context.inventory.file, 'utf8');
  return buildSavedPlan({
    version: INFRA_VERSION,
    createdAt: new Date(),
    inventory: { file: context.inventory.file, text: inventoryText },
    state: await stateListing(context.inventory.stateDir),
    limit,
    hosts: context.hosts.flatMap((host) => {
      const probe = probes.get(host.name);
      return probe ? [{ plan: probe.plan, address: host.address, facts: probe.facts }] : [];
    }),
  });
}

/** The plans of the hosts that were read, in inventory order. */
function orderedPlans(context: RunContext, plans: ReadonlyMap<string, HostPlan>): HostPlan[] {
  return context.hosts.map((host) => plans.get(host.name)).filter((plan): plan is HostPlan => plan !== undefined);
}

/** Prints the plans `shown` picks; says whether it printed any. */
function printPlans(
  context: RunContext,
  plans: Map<string, HostPlan>,
  options: GlobalOptions & { diff?: boolean },
  shown: (plan: HostPlan) => boolean,
): boolean {
  const color = colorEnabled(process.stdout);
  let printed = false;
  for (const host of context.hosts) {
    const plan = plans.get(host.name);
    if (!plan || !shown(plan)) continue;
    process.stdout.write(renderHostPlan(plan, host.address, { verbose: options.verbose, diff: options.diff, color }) + '\n');
    printed = true;
  }
  return printed;
}

/** After applying, a new read of the changed hosts must find nothing left to do. */
async function verifyConverged(fleet: Fleet, context: RunContext, forks: number, reports: Map<string, HostReport>): Promise<void> {
  const changedHosts = context.desires.filter((desire) => reports.get(desire.host)?.status === 'changed');
  if (changedHosts.length === 0) return;
  const { probes, failures } = await probeAndPlan(fleet, changedHosts, forks);
  for (const [host, error] of failures) {
    const report = reports.get(host) as HostReport;
    report.status = 'failed';
    report.error = `verify: ${error.message}`;
  }
  for (const [host, probe] of probes) {
    const error = notConverged(probe.plan);
    if (error === undefined) continue;
    const report = reports.get(host) as HostReport;
    report.status = 'failed';
    report.error = `verify: ${error}`;
  }
}
