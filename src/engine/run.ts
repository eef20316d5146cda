import { redact, type Secret } from '../core/secret.js';
import type { Change, DbReplicationResource, Facts, HostDesire, HostPlan, PackageResource, Phase } from '../core/types.js';
import { errantRefusal, errantTransactions, switchPrimary, type DbHostReading } from '../db/replication.js';
import { buildChangeScript, buildHandlerScript, buildPackagesScript, buildReadyScript, scriptFailure, triggeredHandlers } from '../apply/scripts.js';
import { buildProbeScript } from '../facts/probe.js';
import { parseProbeOutput } from '../facts/parse.js';
import { planHost } from '../plan/plan-host.js';
import { PHASE_ORDER } from '../roles/index.js';
import { mapWithLimit } from '../transport/pool.js';
import { ConnectionError, type HostConnection } from '../transport/ssh.js';
import type { Fleet } from './fleet.js';

export interface HostProbe {
  host: string;
  facts: Facts;
  plan: HostPlan;
}

/** Reads every connected host with one exec each, in parallel, and plans it (with health checks for `infra check`). */
export async function probeAndPlan(
  fleet: Fleet,
  desires: readonly HostDesire[],
  forks: number,
  options: { health?: boolean } = {},
): Promise<{ probes: Map<string, HostProbe>; failures: Map<string, Error> }> {
  const probes = new Map<string, HostProbe>();
  const failures = new Map<string, Error>();
  const reachable = desires.filter((desire) => fleet.connections.has(desire.host));
  const results = await mapWithLimit(reachable, forks, async (desire) => {
    const connection = fleet.connections.get(desire.host) as HostConnection;
    const result = await connection.run(buildProbeScript(desire, options));
    if (result.code !== 0) throw new Error(`${desire.host}: the probe failed (exit ${result.code}): ${result.stderr.trim()}`);
    const facts = parseProbeOutput(result.stdout, connection.localAddress);
    return { host: desire.host, facts, plan: planHost(desire, facts) };
  });
  results.forEach((result, index) => {
    const host = (reachable[index] as HostDesire).host;
    if (result.status === 'fulfilled') probes.set(host, result.value);
    else failures.set(host, result.reason instanceof Error ? result.reason : new Error(String(result.reason)));
  });
  refuseErrantReplicas(desires, probes);
  return { probes, failures };
}

/** The db hosts read, each with its replication resource and facts, for the checks across them. */
export function dbReadings(desires: readonly HostDesire[], probes: ReadonlyMap<string, HostProbe>): DbHostReading[] {
  return desires.flatMap((desire) => {
    const probe = probes.get(desire.host);
    const resource = desire.phases.flatMap((phase) => phase.resources).find((r): r is DbReplicationResource => r.kind === 'db-replication');
    return probe && resource ? [{ resource, db: probe.facts.db }] : [];
  });
}

/**
 * A replica holding transactions the primary lacks cannot be made a replica without losing them
 * or breaking replication: its plan is refused (the only plan decision that needs two hosts' facts).
 */
function refuseErrantReplicas(desires: readonly HostDesire[], probes: Map<string, HostProbe>): void {
  const readings = dbReadings(desires, probes);
  const primary = readings.find((reading) => reading.resource.primary.name === reading.resource.host)?.resource.host;
  for (const [host, gtids] of errantTransactions(readings)) {
    const plan = probes.get(host)?.plan;
    if (plan && primary && !plan.refusal) plan.refusal = errantRefusal(host, primary, gtids);
  }
}

export type RunEvent =
  | { type: 'phase-start'; host: string; phase: Phase; changes: number }
  | { type: 'phase-done'; host: string; phase: Phase; ms: number }
  | { type: 'handlers-start'; host: string; phase: Phase; handlers: string[] }
  | { type: 'host-failed'; host: string; phase: Phase; message: string }
  /** The steps of a script about to run on a host (their names, not the script: it holds file contents). */
  | { type: 'steps'; host: string; phase: Phase; steps: string[] }
  /** Packages of a host's later phases, installed together right after its firewall is up. */
  | { type: 'packages'; host: string; packages: string[] };

export interface PhaseReport {
  phase: Phase;
  changed: number;
  handlers: string[];
  ms: number;
}

export interface HostReport {
  host: string;
  status: 'changed' | 'ok' | 'failed' | 'unreachable' | 'refused';
  changed: number;
  unchanged: number;
  phases: PhaseReport[];
  ms: number;
  /** The failed step and the output that explains it (secrets redacted). */
  error?: string;
}

export interface ApplyOptions {
  forks: number;
  onEvent?: (event: RunEvent) => void;
  /** For tests of interrupted runs: called after a phase's changes, before its handlers. */
  afterChanges?: (host: string, phase: Phase) => Promise<void>;
}

class StepFailure extends Error {}

async function runScript(connection: HostConnection, script: string, secrets: readonly Secret[]): Promise<void> {
  const failure = scriptFailure(await connection.run(script));
  if (failure !== undefined) throw new StepFailure(redact(failure, secrets));
}

/** The `step "…"` names a script announces, in order (for --verbose). */
function stepNames(script: string, secrets: readonly Secret[]): string[] {
  return [...script.matchAll(/^\s*step (.+)$/gm)].map((match) => redact((match[1] as string).replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1'), secrets));
}

function secretsOf(changes: readonly Change[]): Secret[] {
  return changes.flatMap((change) => {
    const resource = change.resource;
    return resource.kind === 'file' || resource.kind === 'command' ? (resource.secrets ?? []) : [];
  });
}

/**
 * Applies the plans phase by phase (firewall and monitoring on every host first, then db, app,
 * web, lb), hosts of a phase in parallel. In each phase a host runs one exec for its changes and,
 * if any handler is due, one for its handlers. A host that fails stops there; the others go on.
 *
 * Right after the firewall phase, every host installs the packages of all its later phases in one
 * apt-get, all hosts at once: installing is most of a first run, and otherwise the web hosts would
 * wait idle while the db hosts install. A serial phase (app, web, lb) changes the hosts that serve
 * in it one at a time; hosts that serve nothing yet in it have no clients to protect and go first,
 * together. A host whose phase names others in `after` starts it once theirs are done.
 */
export async function applyPlans(
  fleet: Fleet,
  desires: readonly HostDesire[],
  plans: ReadonlyMap<string, HostPlan>,
  options: ApplyOptions,
): Promise<Map<string, HostReport>> {
  const reports = new Map<string, HostReport>();
  const failed = new Set<string>();
  for (const desire of desires) {
    const plan = plans.get(desire.host);
    if (!plan) continue;
    const changed = plan.changes.filter((change) => change.action !== 'noop').length;
    reports.set(desire.host, { host: desire.host, status: 'ok', changed, unchanged: plan.changes.length - changed, phases: [], ms: 0 });
  }
  const installedEarlier = new Map<string, Set<string>>();
  for (const phase of PHASE_ORDER) {
    await applyAcrossHosts(fleet, desires, plans, phase, reports, failed, options);
    const work = desires.filter((desire) => plans.has(desire.host) && !failed.has(desire.host) && desire.phases.some((p) => p.phase === phase));
    const phaseOf = (desire: HostDesire) => desire.phases.find((p) => p.phase === phase);
    const serving = (desire: HostDesire) => (plans.get(desire.host) as HostPlan).serving.includes(phase);
    const serial = work.some((desire) => phaseOf(desire)?.serial);
    // Hosts that wait for others of the phase start last, so a pool of `forks` lanes never fills
    // with waiters while the hosts they wait for have no lane.
    const waits = (desire: HostDesire) => ((phaseOf(desire)?.after?.length ?? 0) > 0 ? 1 : 0);
    const together = (serial ? work.filter((desire) => !serving(desire)) : [...work]).sort((a, b) => waits(a) - waits(b));
    const inTurn = serial ? work.filter(serving).sort((a, b) => (phaseOf(a)?.rank ?? 0) - (phaseOf(b)?.rank ?? 0)) : [];
    const applyOn = async (desire: HostDesire) => {
      const report = reports.get(desire.host) as HostReport;
      const started = Date.now();
      try {
        const plan = plans.get(desire.host) as HostPlan;
        const phaseReport = await applyPhase(fleet, desire, plan, phase, installedEarlier.get(desire.host), options);
        phaseReport.ms = Date.now() - started;
        if (phaseReport.changed > 0 || phaseReport.handlers.length > 0) {
          report.phases.push(phaseReport);
          report.status = 'changed';
        }
      } catch (err) {
        failed.add(desire.host);
        report.status = 'failed';
        report.error = `${phase}: ${err instanceof Error ? err.message : String(err)}`;
        options.onEvent?.({ type: 'host-failed', host: desire.host, phase, message: report.error });
      }
      report.ms += Date.now() - started;
    };
    const finished = new Map<string, Promise<void>>();
    const applyAfterOthers = (desire: HostDesire) => {
      const others = (phaseOf(desire)?.after ?? []).flatMap((host) => finished.get(host) ?? []);
      const done = Promise.all(others).then(() => applyOn(desire));
      finished.set(desire.host, done);
      return done;
    };
    await mapWithLimit(together, options.forks, applyAfterOthers);
    await mapWithLimit(inTurn, 1, applyOn);
    if (phase === 'firewall') {
      const ready = desires.filter((desire) => plans.has(desire.host) && !failed.has(desire.host));
      await mapWithLimit(ready, options.forks, async (desire) => {
        const started = Date.now();
        const installed = await installLaterPackages(fleet, desire.host, plans.get(desire.host) as HostPlan, options);
        installedEarlier.set(desire.host, installed);
        (reports.get(desire.host) as HostReport).ms += Date.now() - started;
      });
    }
  }
  return reports;
}

/**
 * The changes whose work spans hosts (a db switchover: the old primary read-only, the new one
 * caught up and promoted) run first in their phase, before any host's own changes of it, so the
 * replicas' commands then point them at a primary that takes writes. A failure here stops the run
 * on every host: replicas and app hosts must not follow a primary that was not switched.
 */
async function applyAcrossHosts(
  fleet: Fleet,
  desires: readonly HostDesire[],
  plans: ReadonlyMap<string, HostPlan>,
  phase: Phase,
  reports: Map<string, HostReport>,
  failed: Set<string>,
  options: ApplyOptions,
): Promise<void> {
  for (const desire of desires) {
    const plan = plans.get(desire.host);
    if (!plan || failed.has(desire.host)) continue;
    for (const change of plan.changes) {
      const resource = change.resource;
      if (change.phase !== phase || change.action === 'noop' || resource.kind !== 'db-replication') continue;
      const report = reports.get(desire.host) as HostReport;
      const started = Date.now();
      options.onEvent?.({ type: 'phase-start', host: desire.host, phase, changes: 1 });
      try {
        await switchPrimary(
          resource,
          async (host, script) => (await fleet.connectionTo(host.name)).run(script),
          (step) => options.onEvent?.({ type: 'steps', host: desire.host, phase, steps: [step] }),
        );
        report.status = 'changed';
        report.phases.push({ phase, changed: 1, handlers: [], ms: Date.now() - started });
      } catch (err) {
        const message = `${phase}: ${redact(err instanceof Error ? err.message : String(err), fleet.secrets)}`;
        for (const other of desires) {
          const otherReport = reports.get(other.host);
          if (!otherReport || failed.has(other.host)) continue;
          failed.add(other.host);
          otherReport.status = 'failed';
          otherReport.error = other.host === desire.host ? message : `${phase}: not run: the switchover to ${desire.host} failed`;
        }
        options.onEvent?.({ type: 'host-failed', host: desire.host, phase, message });
        return;
      } finally {
        report.ms += Date.now() - started;
      }
    }
  }
}

/**
 * Installs in one apt-get the packages the host's phases after the firewall want, and returns them
 * (none when the install failed: each phase then installs its own, and fails with its own name).
 */
async function installLaterPackages(fleet: Fleet, host: string, plan: HostPlan, options: ApplyOptions): Promise<Set<string>> {
  const names = [
    ...new Set(
      plan.changes
        .filter((c) => c.phase !== 'firewall' && c.action !== 'noop' && c.resource.kind === 'package')
        .map((c) => (c.resource as PackageResource).name),
    ),
  ];
  const connection = fleet.connections.get(host);
  if (names.length === 0 || !connection) return new Set();
  options.onEvent?.({ type: 'packages', host, packages: names });
  const result = await connection.run(buildPackagesScript(names)).catch(() => undefined);
  return result !== undefined && scriptFailure(result) === undefined ? new Set(names) : new Set();
}

/** Runs a script on other hosts (in parallel), e.g. draining a web host on every lb host. */
async function onPeers(fleet: Fleet, peers: readonly string[], script: string, what: string): Promise<void> {
  await Promise.all(
    peers.map(async (peer) => {
      const result = await (await fleet.connectionTo(peer)).run(script);
      if (result.code !== 0) throw new StepFailure(`on ${peer} ${what}: exit ${result.code}: ${(result.stderr || result.stdout).trim()}`);
    }),
  );
}

async function applyPhase(
  fleet: Fleet,
  desire: HostDesire,
  plan: HostPlan,
  phase: Phase,
  installedEarlier: ReadonlySet<string> | undefined,
  options: ApplyOptions,
): Promise<PhaseReport> {
  const phaseDesire = desire.phases.find((p) => p.phase === phase);
  const connection = fleet.connections.get(desire.host);
  if (!phaseDesire || !connection) throw new ConnectionError(desire.host, 'other', 'not connected');
  const changes = plan.changes.filter((change) => change.phase === phase);
  const active = changes.filter((change) => change.action !== 'noop');
  const secrets = [...fleet.secrets, ...secretsOf(changes)];
  const triggered = triggeredHandlers(changes, phaseDesire.handlers);
  const report: PhaseReport = { phase, changed: active.length, handlers: [], ms: 0 };
  if (active.length > 0) {
    options.onEvent?.({ type: 'phase-start', host: desire.host, phase, changes: active.length });
    const script = buildChangeScript(changes, triggered, phaseDesire.validators, installedEarlier);
    options.onEvent?.({ type: 'steps', host: desire.host, phase, steps: stepNames(script, secrets) });
    await runScript(connection, script, secrets);
    await options.afterChanges?.(desire.host, phase);
  }
  const due = phaseDesire.handlers.filter((handler) => triggered.includes(handler.id) || plan.pendingHandlers.includes(handler.id));
  if (due.length > 0) {
    report.handlers = due.map((handler) => handler.id);
    options.onEvent?.({ type: 'handlers-start', host: desire.host, phase, handlers: report.handlers });
    const rolling = phaseDesire.rolling;
    if (rolling) await onPeers(fleet, rolling.peers, rolling.before, `before ${desire.host}'s ${phase} handlers`);
    const handlerScript = buildHandlerScript(due, phaseDesire.validators);
    options.onEvent?.({ type: 'steps', host: desire.host, phase, steps: stepNames(handlerScript, secrets) });
    await runScript(connection, handlerScript, secrets);
    if (rolling) await onPeers(fleet, rolling.peers, rolling.after, `after ${desire.host}'s ${phase} handlers`);
  }
  if (phaseDesire.ready && (active.length > 0 || due.length > 0)) {
    const readyScript = buildReadyScript(phaseDesire.ready);
    options.onEvent?.({ type: 'steps', host: desire.host, phase, steps: stepNames(readyScript, secrets) });
    await runScript(connection, readyScript, secrets);
  }
  if (due.length > 0) {
    // The wait keeps two serving hosts from being out of rotation at once; a host that served
    // nothing before this run was in no one's rotation.
    const settleSeconds = phaseDesire.serial && plan.serving.includes(phase) ? (phaseDesire.settleSeconds ?? 0) : 0;
    if (settleSeconds > 0) await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  }
  options.onEvent?.({ type: 'phase-done', host: desire.host, phase, ms: 0 });
  return report;
}
