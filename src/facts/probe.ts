import { createHash } from 'node:crypto';
import { quoteWord } from '../core/shell.js';
import type { HostDesire, Resource } from '../core/types.js';

export const PENDING_HANDLERS_FILE = '/var/lib/infra/pending-handlers';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function allResources(desire: HostDesire): Resource[] {
  return desire.phases.flatMap((phase) => phase.resources);
}

/**
 * The one read of a host: a shell script whose output holds every fact the plan needs for the
 * desired resources — OS, managed paths (hash, mode, owner; content only where the hash differs,
 * for the diff), packages, services, ufw state and rules, command guards and pending handlers.
 * It only reads. Each line of output starts with a tag the parser knows.
 */
export function buildProbeScript(desire: HostDesire, options: { health?: boolean } = {}): string {
  const resources = allResources(desire);
  const lines: string[] = [
    'export LC_ALL=C',
    '. /etc/os-release 2>/dev/null',
    'printf "OS\\t%s\\t%s\\t%s\\n" "${ID:-}" "${VERSION_ID:-}" "${VERSION_CODENAME:-}"',
    // Reads one path: its type, mode, owner, group and hash; the content (base64) only when the
    // hash is not the wanted one.
    'probe_path() {',
    '  if [ ! -e "$1" ] && [ ! -L "$1" ]; then printf "F\\t%s\\t0\\n" "$1"; return; fi',
    '  if [ -L "$1" ]; then t=symlink; elif [ -d "$1" ]; then t=directory; elif [ -f "$1" ]; then t=file; else t=other; fi',
    '  meta=$(stat --printf "%a\\t%U\\t%G" "$1")',
    '  sum=; body=',
    '  if [ "$t" = file ]; then sum=$(sha256sum < "$1"); sum=${sum%% *}; [ "$sum" != "$2" ] && body=$(base64 -w0 < "$1"); fi',
    '  link=; [ "$t" = symlink ] && link=$(readlink "$1")',
    '  printf "F\\t%s\\t1\\t%s\\t%s\\t%s\\t%s\\t%s\\n" "$1" "$t" "$meta" "$sum" "$body" "$link"',
    '}',
  ];
  for (const resource of resources) {
    if (resource.kind === 'file') lines.push(`probe_path ${quoteWord(resource.path)} ${sha256Hex(resource.content)}`);
    if (resource.kind === 'directory' || resource.kind === 'symlink' || resource.kind === 'absent') {
      lines.push(`probe_path ${quoteWord(resource.path)} -`);
    }
  }
  const packages = resources.filter((r) => r.kind === 'package').map((r) => r.name);
  if (packages.length > 0) {
    lines.push(
      `dpkg-query -W -f='P\\t\${Package}\\t\${db:Status-Abbrev}\\t\${Version}\\n' ${packages.map(quoteWord).join(' ')} 2>/dev/null`,
    );
  }
  const services = resources.filter((r) => r.kind === 'service').map((r) => r.name);
  const handlerServices = desire.phases.flatMap((phase) => phase.handlers.map((handler) => handler.service));
  const units = [...new Set([...services, ...handlerServices])];
  if (units.length > 0) {
    lines.push(
      `systemctl show -p Id,LoadState,ActiveState,UnitFileState ${units.map((unit) => quoteWord(`${unit}.service`)).join(' ')} 2>/dev/null | sed 's/^/S\\t/'`,
    );
  }
  if (resources.some((r) => r.kind === 'firewall-rule' || r.kind === 'firewall-state')) {
    lines.push(
      'if command -v ufw >/dev/null 2>&1; then printf "W\\tinstalled\\n"; fi',
      // ufw.conf says whether ufw should be on; the ufw-user-input chain says it really is.
      'if grep -qs "^ENABLED=yes" /etc/ufw/ufw.conf && iptables -n -L ufw-user-input >/dev/null 2>&1; then printf "W\\tenabled\\n"; fi',
      'sed -n "s/^DEFAULT_INPUT_POLICY=\\"\\{0,1\\}\\([A-Z]*\\)\\"\\{0,1\\}$/W\\tinput\\t\\1/p" /etc/default/ufw 2>/dev/null',
      'sed -n "s/^### tuple ### /R\\t/p" /etc/ufw/user.rules 2>/dev/null',
    );
  }
  for (const resource of resources) {
    if (resource.kind === 'command') {
      lines.push(`( ${resource.unless} ) >/dev/null 2>&1; printf "G\\t%s\\t%s\\n" ${quoteWord(resource.name)} "$?"`);
    }
  }
  if (options.health) {
    for (const check of desire.phases.flatMap((phase) => phase.healthChecks ?? [])) {
      lines.push(`printf "C\\t%s\\t%s\\n" ${quoteWord(check.name)} "$( { ${check.script}\n} 2>&1 | base64 -w0)"`);
    }
  }
  lines.push(`[ -f ${PENDING_HANDLERS_FILE} ] && sed 's/^/H\\t/' ${PENDING_HANDLERS_FILE}`, 'exit 0');
  return lines.join('\n');
}
