import type { Facts, HealthContext, HostDesire, HostPlan, Phase } from '../core/types.js';
import { resourceLabel } from '../resources/index.js';

/**
 * Drift: every way a host differs from what the inventory and templates define, as data. A pure
 * function of a host's plan, desire and facts, plus the checks across hosts (VIP, served
 * certificate) that no single host can answer.
 */
export interface DriftItem {
  phase: Phase | 'fleet';
  kind: 'resource' | 'health' | 'pending-handler' | 'foreign-rule';
  /** What drifted: "file /etc/nginx/…", "replication", "restart:nginx"… */
  subject: string;
  message: string;
  diff?: string;
}

export interface HostDrift {
  items: DriftItem[];
  /** Observations of the health checks, by check name. */
  observations: Record<string, Record<string, string>>;
}

export function hostDrift(desire: HostDesire, plan: HostPlan, facts: Facts, context: HealthContext): HostDrift {
  const items: DriftItem[] = [];
  for (const change of plan.changes) {
    if (change.action === 'noop') continue;
    const item: DriftItem = { phase: change.phase, kind: 'resource', subject: resourceLabel(change.resource), message: `${change.action}: ${change.reason}` };
    if (change.diff) item.diff = change.diff;
    items.push(item);
  }
  for (const notice of plan.notices) items.push({ phase: 'firewall', kind: 'foreign-rule', subject: 'ufw', message: notice });
  if (plan.refusal) items.push({ phase: 'fleet', kind: 'health', subject: 'plan refused', message: plan.refusal });
  const observations: HostDrift['observations'] = {};
  for (const phase of desire.phases) {
    for (const handler of phase.handlers) {
      if (plan.pendingHandlers.includes(handler.id)) {
        items.push({ phase: phase.phase, kind: 'pending-handler', subject: handler.id, message: 'left pending by an earlier failed run' });
      }
    }
    for (const check of phase.healthChecks ?? []) {
      const output = facts.health[check.name];
      if (output === undefined) {
        items.push({ phase: phase.phase, kind: 'health', subject: check.name, message: 'the check did not run' });
        continue;
      }
      const result = check.evaluate(output, context);
      for (const problem of result.problems) items.push({ phase: phase.phase, kind: 'health', subject: check.name, message: problem });
      if (result.observations) observations[check.name] = result.observations;
    }
  }
  return { items, observations };
}

/** Exactly one lb host must hold the VIP. */
export function vipHolderDrift(vip: string | undefined, lbObservations: ReadonlyMap<string, Record<string, string> | undefined>): DriftItem[] {
  if (!vip || lbObservations.size === 0) return [];
  const holders = [...lbObservations].filter(([, observed]) => observed?.vip === 'held').map(([host]) => host);
  if (holders.length === 1) return [];
  const message =
    holders.length === 0
      ? `the VIP ${vip} is held by no lb host`
      : `the VIP ${vip} is held by ${holders.length} lb hosts at once (${holders.join(', ')}): split brain`;
  return [{ phase: 'fleet', kind: 'health', subject: 'vip', message }];
}

/** The certificate a client gets through the VIP must be one the web hosts have deployed. */
export function vipCertificateDrift(servedFingerprint: string | undefined, deployedFingerprints: readonly string[], error?: string): DriftItem[] {
  if (error) return [{ phase: 'fleet', kind: 'health', subject: 'certificate via vip', message: `no TLS handshake through the VIP: ${error}` }];
  if (!servedFingerprint || deployedFingerprints.includes(servedFingerprint)) return [];
  return [
    {
      phase: 'fleet',
      kind: 'health',
      subject: 'certificate via vip',
      message: `the VIP serves a certificate (${servedFingerprint.slice(0, 23)}…) that no web host has deployed`,
    },
  ];
}
