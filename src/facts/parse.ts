import type { Facts } from '../core/types.js';
import type { ProbeFragment } from '../resources/kind.js';
import { PROBE_FRAGMENTS } from '../resources/index.js';

/** What a host that holds nothing infra reads has: the start of every parse. */
export function emptyFacts(controllerAddress: string): Facts {
  return {
    os: { id: '', versionId: '', codename: '' },
    controllerAddress,
    files: {},
    packages: {},
    services: {},
    firewall: { installed: false, enabled: false, defaultIncoming: '', rules: [] },
    guards: {},
    queries: {},
    pendingHandlers: [],
    folders: {},
    health: {},
  };
}

/** Which resource kind's read prints a line with this tag. */
const READ_BY_TAG = new Map<string, ProbeFragment>(PROBE_FRAGMENTS.flatMap(({ fragment }) => fragment.tags.map((tag) => [tag, fragment] as const)));

/**
 * Turns the probe's output into Facts: the host's own lines here (OS, health checks, pending
 * handlers), each resource kind's lines by its read's parser. Unknown lines are ignored, so an
 * older host never breaks it.
 */
export function parseProbeOutput(output: string, controllerAddress: string): Facts {
  const facts = emptyFacts(controllerAddress);
  const linesByRead = new Map<ProbeFragment, string[][]>();
  for (const line of output.split('\n')) {
    const fields = line.split('\t');
    const [tag = '', first, second] = fields;
    if (tag === 'OS') facts.os = { id: first ?? '', versionId: second ?? '', codename: fields[3] ?? '' };
    else if (tag === 'C' && first) facts.health[first] = Buffer.from(second ?? '', 'base64').toString('utf8');
    else if (tag === 'H' && first && !facts.pendingHandlers.includes(first)) facts.pendingHandlers.push(first);
    else {
      const read = READ_BY_TAG.get(tag);
      if (!read) continue;
      const lines = linesByRead.get(read) ?? [];
      lines.push(fields);
      linesByRead.set(read, lines);
    }
  }
  for (const { fragment } of PROBE_FRAGMENTS) fragment.parse(linesByRead.get(fragment) ?? [], facts);
  return facts;
}
