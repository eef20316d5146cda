import { resourceLabel, type Action, type HostPlan } from '../core/types.js';
import { countChanges } from './plan-host.js';

const SYMBOL: Record<Action, string> = { create: '+', update: '~', delete: '-', noop: ' ' };

export interface RenderOptions {
  /** Show unchanged resources too (with the reason nothing is needed). */
  verbose?: boolean;
  color?: boolean;
}

function paint(text: string, code: number, color: boolean | undefined): string {
  return color ? `\u001b[${code}m${text}\u001b[0m` : text;
}

const ACTION_COLOR: Record<Action, number> = { create: 32, update: 33, delete: 31, noop: 2 };

export function summarizeCounts(plan: HostPlan): string {
  const counts = countChanges(plan);
  return `${counts.create} to create, ${counts.update} to update, ${counts.delete} to delete, ${counts.noop} unchanged`;
}

/** A host's plan as text: changes grouped by phase, with unified diffs for files. */
export function renderHostPlan(plan: HostPlan, address: string, options: RenderOptions = {}): string {
  const lines: string[] = [`${plan.host} (${address}): ${summarizeCounts(plan)}`];
  let phase = '';
  for (const change of plan.changes) {
    if (change.action === 'noop' && !options.verbose) continue;
    if (change.phase !== phase) {
      phase = change.phase;
      lines.push(`  ${phase}`);
    }
    const label = `${SYMBOL[change.action]} ${resourceLabel(change.resource)}`;
    lines.push(`    ${paint(label, ACTION_COLOR[change.action], options.color)}  (${change.reason})`);
    if (change.diff) {
      for (const diffLine of change.diff.split('\n').slice(2)) {
        if (!diffLine) continue;
        const code = diffLine.startsWith('+') ? 32 : diffLine.startsWith('-') ? 31 : 0;
        lines.push(`        ${code ? paint(diffLine, code, options.color) : diffLine}`);
      }
    }
  }
  if (plan.pendingHandlers.length > 0) lines.push(`  pending from an earlier run: ${plan.pendingHandlers.join(', ')}`);
  for (const notice of plan.notices) lines.push(`  note: ${notice}`);
  if (plan.refusal) lines.push(`  REFUSED: ${plan.refusal}`);
  return lines.join('\n');
}

/**
 * A host's plan as data for --json and reports: changes by label, reason and (redacted) diff,
 * never the resources themselves, since a file's content may hold a secret.
 */
export function planToJson(plan: HostPlan) {
  return {
    changes: plan.changes
      .filter((change) => change.action !== 'noop')
      .map((change) => ({ phase: change.phase, action: change.action, resource: resourceLabel(change.resource), reason: change.reason, diff: change.diff })),
    pendingHandlers: plan.pendingHandlers,
    notices: plan.notices,
    refusal: plan.refusal,
  };
}
