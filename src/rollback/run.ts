import { UserError } from '../core/errors.js';
import type { PassphrasePrompt } from '../transport/keys.js';
import type { HostDesire } from '../core/types.js';
import { Fleet } from '../engine/fleet.js';
import { applyPlans, probeAndPlan, type RunEvent } from '../engine/run.js';
import { ROLE, type Host, type Inventory } from '../inventory/model.js';
import { appendAuditScript, auditLine, INFRA_VERSION, operator, saveRunReport } from '../report/run-report.js';
import { appRollbackPhase } from '../roles/app.js';
import { chooseRollbacks, parseReleasesReading, readReleasesScript, type ReleasesReading, type RollbackDecision } from './releases.js';

/** The rollback of every selected app host, decided and connected, before anything changes. */
export interface PreparedRollback {
  inventory: Inventory;
  fleet: Fleet;
  decisions: RollbackDecision[];
}

export interface RollbackOutcome extends RollbackDecision {
  status: 'rolled-back' | 'failed' | 'not-reached';
  error?: string;
}

/**
 * Connects to the selected app hosts, reads their releases and decides what each goes back to.
 * Changes nothing; throws a UserError (connections closed) when a host cannot be reached or has
 * no previous release.
 */
export async function prepareRollback(inventory: Inventory, hosts: readonly Host[], askPassphrase?: PassphrasePrompt): Promise<PreparedRollback> {
  const appHosts = hosts.filter((host) => host.roles.includes(ROLE.app));
  if (appHosts.length === 0) throw new UserError('no app host is selected: rollback puts back the previous release of the app hosts');
  const fleet = await Fleet.connect(inventory, appHosts, {
    forks: appHosts.length,
    acceptNewHostKeys: false,
    replaceHostKeys: new Set(),
    ...(askPassphrase ? { askPassphrase } : {}),
  });
  try {
    if (fleet.failures.size > 0) {
      const lines = [...fleet.failures.values()].map((failure) => `  ${failure.message}`);
      throw new UserError(`cannot reach every app host; nothing was changed:\n${lines.join('\n')}`);
    }
    const readings = await Promise.all(
      appHosts.map(async (host): Promise<[string, ReleasesReading]> => {
        const result = await (await fleet.connectionTo(host.name)).run(readReleasesScript());
        if (result.code !== 0)
          throw new UserError(`${host.name}: reading its releases failed (exit ${result.code}): ${result.stderr.trim()}; nothing was changed`);
        return [host.name, parseReleasesReading(result.stdout)];
      }),
    );
    return { inventory, fleet, decisions: chooseRollbacks(new Map(readings)) };
  } catch (error) {
    fleet.close();
    throw error;
  }
}

/**
 * Puts the previous release back, one app host at a time, through the engine as a deploy does:
 * `current` switched (and recorded in the history), the app restarted and its health check
 * passed, then the settle wait before the next host. Stops at the first host that fails: the
 * hosts after it keep serving the release they have. Every host rolled back gets an audit line,
 * and the run a report in the state directory; `warnings` says which audit lines could not be written.
 */
export async function applyRollback(
  prepared: PreparedRollback,
  onEvent?: (event: RunEvent) => void,
): Promise<{ outcomes: RollbackOutcome[]; warnings: string[] }> {
  const started = new Date();
  const { inventory, fleet, decisions } = prepared;
  const outcomes: RollbackOutcome[] = decisions.map((decision) => ({ ...decision, status: 'not-reached' }));
  for (const outcome of outcomes) {
    const host = inventory.hosts.find((candidate) => candidate.name === outcome.host) as Host;
    const desire: HostDesire = { host: host.name, address: host.address, phases: [appRollbackPhase(inventory, host, outcome.to)] };
    const { probes, failures } = await probeAndPlan(fleet, [desire], 1);
    const plan = probes.get(host.name)?.plan;
    const report = plan ? (await applyPlans(fleet, [desire], new Map([[host.name, plan]]), { forks: 1, onEvent })).get(host.name) : undefined;
    if (report?.status === 'changed') {
      outcome.status = 'rolled-back';
      continue;
    }
    outcome.status = 'failed';
    outcome.error = failures.get(host.name)?.message ?? report?.error ?? `nothing was applied (${report?.status ?? 'not read'})`;
    break;
  }
  const ok = outcomes.every((outcome) => outcome.status === 'rolled-back');
  const record = {
    command: 'rollback' as const,
    startedAt: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    ok,
    exitCode: ok ? 0 : 1,
    ...operator(),
    version: INFRA_VERSION,
    inventory: inventory.file,
    hosts: outcomes.map((outcome) => ({ host: outcome.host, status: outcome.status, changed: outcome.status === 'rolled-back' ? 1 : 0, error: outcome.error })),
    details: { hosts: outcomes },
  };
  const warnings = await Promise.all(
    outcomes
      .filter((outcome) => outcome.status !== 'not-reached')
      .map(async (outcome) => {
        const connection = fleet.connections.get(outcome.host);
        if (!connection) return [];
        const line = auditLine(record, connection.localAddress, [`current ${outcome.from} → ${outcome.to}: ${outcome.status}`]);
        const result = await connection.run(appendAuditScript(line)).catch((err: Error) => ({ code: 1, stdout: '', stderr: err.message }));
        return result.code === 0 ? [] : [`${outcome.host}: the audit log could not be written: ${result.stderr.trim()}`];
      }),
  );
  await saveRunReport(inventory.stateDir, record);
  return { outcomes, warnings: warnings.flat() };
}
