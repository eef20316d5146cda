import type { Action, Change, HostPlan } from '../core/types.js';
import { resourceLabel } from '../resources/index.js';
import { countChanges } from './plan-host.js';

const SYMBOL: Record<Action, string> = { create: '+', update: '~', delete: '-', noop: ' ' };

export interface RenderOptions {
  /** Show every resource on its own line, unchanged ones too (with the reason nothing is needed). */
  verbose?: boolean;
  /** Show the whole content of new files too (updates always show their diff). */
  diff?: boolean;
  color?: boolean;
}

function paint(text: string, code: number, color: boolean | undefined): string {
  return color ? `\u001b[${code}m${text}\u001b[0m` : text;
}

const ACTION_COLOR: Record<Action, number> = { create: 32, update: 33, delete: 31, noop: 2 };

export function summarizeCounts(plan: HostPlan): string {
  const counts = countChanges(plan);
  return `${counts.create} to add, ${counts.update} to change, ${counts.delete} to destroy, ${counts.noop} unchanged`;
}

/** Whether applying the plan would do anything on the host: a change, or a reload left pending by an earlier run. */
export function hasPendingWork(plan: HostPlan): boolean {
  return plan.pendingHandlers.length > 0 || plan.changes.some((change) => change.action !== 'noop');
}

/**
 * What a probe right after apply still finds to do on a host, each with why, or undefined when the
 * host converged. The reason is what an operator has to go on (a service still starting, a replica
 * not yet running), so the message keeps it.
 */
export function notConverged(plan: HostPlan): string | undefined {
  const left = plan.changes.filter((change) => change.action !== 'noop').map((change) => `${resourceLabel(change.resource)} (${change.reason})`);
  const handlers = plan.pendingHandlers.map((id) => `handler ${id} (still pending)`);
  if (left.length === 0 && handlers.length === 0) return undefined;
  return `not converged after apply: ${[...left, ...handlers].join(', ')}`;
}

/**
 * The closing line of a fleet's plan, before any question: Terraform's "Plan: N to add…" counted
 * over every host, with the hosts that have nothing to do. A reload left pending by an earlier run
 * counts as a change: applying performs it.
 */
export function planTotal(plans: readonly HostPlan[]): string {
  const total = { create: 0, update: 0, delete: 0 };
  for (const plan of plans) {
    const counts = countChanges(plan);
    total.create += counts.create;
    total.update += counts.update + plan.pendingHandlers.length;
    total.delete += counts.delete;
  }
  const unchanged = plans.filter((plan) => !hasPendingWork(plan)).length;
  return `Plan: ${total.create} to add, ${total.update} to change, ${total.delete} to destroy on ${plans.length} host${plans.length === 1 ? '' : 's'} (${unchanged} unchanged)`;
}

function lineCount(content: string): number {
  if (content === '') return 0;
  return content.split('\n').length - (content.endsWith('\n') ? 1 : 0);
}

/** A change's one line: a new file says its size and owner instead of its content. */
function changeLine(change: Change, verbose: boolean | undefined): string {
  const label = resourceLabel(change.resource);
  const resource = change.resource;
  if (change.action === 'create' && resource.kind === 'file') {
    const secrets = (resource.secrets ?? []).length > 0 ? ', holds secrets' : '';
    const lines = lineCount(resource.content);
    return `${label} (new, ${lines} line${lines === 1 ? '' : 's'}, ${resource.mode} ${resource.owner}:${resource.group}${secrets})`;
  }
  // "+" already says a thing is missing; the reason of a creation says nothing more.
  if (change.action === 'create' && !verbose) return label;
  return `${label}  (${change.reason})`;
}

/**
 * The group a change joins on its phase's line, or none: packages, services, directories,
 * firewall rules and commands of one action and reason.
 */
function groupOf(change: Change): { key: string; name: string; item: string } | undefined {
  const resource = change.resource;
  const same = `${change.action}\0${change.reason}`;
  switch (resource.kind) {
    case 'package':
      return { key: `package\0${same}`, name: 'packages', item: resource.name };
    case 'service':
      return { key: `service\0${same}`, name: 'services', item: resource.name };
    case 'directory':
      return { key: `directory\0${same}`, name: 'directories', item: resource.path };
    case 'firewall-rule': {
      const rule = resource.found ?? { action: 'allow', port: resource.port, proto: resource.proto, from: resource.from };
      return { key: `firewall\0${rule.action}\0${same}`, name: `ufw ${rule.action}`, item: `${rule.port}/${rule.proto} from ${rule.from}` };
    }
    case 'command':
      return { key: `command\0${same}`, name: 'commands', item: resource.name };
    default:
      return undefined;
  }
}

/**
 * Items of one line, each said once: "443/tcp from a", "443/tcp from b" → "443/tcp from a, b", and
 * commands that differ only in their last word, "db account a", "db account b" → "db account a, b".
 */
function joinItems(items: readonly string[]): string {
  const out: string[] = [];
  let previousHead = '';
  for (const item of items) {
    const at = item.includes(' from ') ? item.indexOf(' from ') + ' from '.length : item.lastIndexOf(' ') + 1;
    const head = at > 0 ? item.slice(0, at) : '';
    out.push(head && head === previousHead ? item.slice(at) : item);
    previousHead = head;
  }
  return out.join(', ');
}

/**
 * Changes of one phase as lines: changes of one group (see groupOf) become one line naming them
 * all, at the place of the first of them (a cold host needs a dozen of each).
 */
function groupChanges(changes: readonly Change[]): { change: Change; text: string }[] {
  const rows: { change: Change; members: Change[] }[] = [];
  const groups = new Map<string, { change: Change; members: Change[] }>();
  for (const change of changes) {
    const key = groupOf(change)?.key;
    const group = key === undefined ? undefined : groups.get(key);
    if (group) {
      group.members.push(change);
      continue;
    }
    const row = { change, members: [change] };
    if (key !== undefined) groups.set(key, row);
    rows.push(row);
  }
  return rows.map(({ change, members }) => {
    if (members.length === 1) return { change, text: changeLine(change, false) };
    const group = groupOf(change) as { name: string };
    const reason = change.action === 'create' ? '' : `  (${change.reason})`;
    return { change, text: `${group.name} ${joinItems(members.map((member) => groupOf(member)?.item ?? ''))}${reason}` };
  });
}

/**
 * A host's plan as text: one line per change (packages, services, directories and firewall rules
 * of a phase gathered on one), the phase in a left column, diffs for updated files; a new file is
 * one line with its size unless `diff` asks for its content. `verbose` lists every resource on its
 * own line, unchanged ones with why.
 */
export function renderHostPlan(plan: HostPlan, address: string, options: RenderOptions = {}): string {
  const lines: string[] = [`${plan.host} (${address}): ${summarizeCounts(plan)}`];
  const phases = [...new Set(plan.changes.map((change) => change.phase))];
  const shown = plan.changes.filter((change) => change.action !== 'noop' || options.verbose);
  const width = Math.max(0, ...phases.filter((phase) => shown.some((c) => c.phase === phase)).map((phase) => phase.length));
  for (const phase of phases) {
    const changes = shown.filter((change) => change.phase === phase);
    const rows = options.verbose ? changes.map((change) => ({ change, text: changeLine(change, true) })) : groupChanges(changes);
    rows.forEach(({ change, text }, index) => {
      const column = (index === 0 ? phase : '').padEnd(width);
      lines.push(`  ${column}  ${paint(`${SYMBOL[change.action]} ${text}`, ACTION_COLOR[change.action], options.color)}`);
      const showDiff = change.diff && (change.action !== 'create' || options.diff);
      if (!showDiff) return;
      for (const diffLine of (change.diff as string).split('\n').slice(2)) {
        if (!diffLine) continue;
        const code = diffLine.startsWith('+') ? 32 : diffLine.startsWith('-') ? 31 : 0;
        lines.push(`  ${''.padEnd(width)}      ${code ? paint(diffLine, code, options.color) : diffLine}`);
      }
    });
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
