import { PENDING_HANDLERS_FILE } from '../apply/scripts.js';
import { quoteWord } from '../core/shell.js';
import type { HostDesire } from '../core/types.js';
import { PROBE_FRAGMENTS } from '../resources/index.js';

/**
 * The one read of a host: a shell script whose output holds every fact the plan needs for the
 * desired resources — OS, then each resource kind's read (managed paths with hash, mode, owner and
 * content only where the hash differs, for the diff; packages, services, ufw state and rules,
 * owned folders, command guards, replication), then health checks and pending handlers.
 * It only reads. Each line of output starts with a tag the parser knows. Files are read with bash
 * builtins rather than grep or sed: every process spawned costs the host a fork and exec, and the
 * probe is what a no-change run waits for.
 */
export function buildProbeScript(desire: HostDesire, options: { health?: boolean } = {}): string {
  const resources = desire.phases.flatMap((phase) => phase.resources);
  const lines: string[] = [
    'export LC_ALL=C',
    '. /etc/os-release 2>/dev/null',
    'printf "OS\\t%s\\t%s\\t%s\\n" "${ID:-}" "${VERSION_ID:-}" "${VERSION_CODENAME:-}"',
  ];
  for (const { fragment, kinds } of PROBE_FRAGMENTS) {
    lines.push(
      ...fragment.script(
        resources.filter((resource) => kinds.has(resource.kind)),
        desire,
      ),
    );
  }
  if (options.health) {
    for (const check of desire.phases.flatMap((phase) => phase.healthChecks ?? [])) {
      lines.push(`printf "C\\t%s\\t%s\\n" ${quoteWord(check.name)} "$( { ${check.script}\n} 2>&1 | base64 -w0)"`);
    }
  }
  lines.push(`[ -f ${PENDING_HANDLERS_FILE} ] && while IFS= read -r __l; do printf "H\\t%s\\n" "$__l"; done < ${PENDING_HANDLERS_FILE}`, 'exit 0');
  return lines.join('\n');
}
