import { createHash } from 'node:crypto';
import { isSqlGuard, sqlGuardBatch } from '../core/mysql-client.js';
import { quoteWord } from '../core/shell.js';
import type { HostDesire, Resource } from '../core/types.js';
import { dbFactProbe } from '../db/replication.js';

export const PENDING_HANDLERS_FILE = '/var/lib/infra/pending-handlers';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Every managed path read with a handful of processes whatever their number (a fork costs tens of
 * milliseconds on a busy host): one `stat` for type, mode, owner and symlink target, one
 * `sha256sum` for the regular files, and `base64` only for a file whose hash is not the wanted
 * one (its content makes the diff) and that holds no secrets (those never leave the host). A path
 * stat cannot read does not exist.
 */
function pathProbe(resources: readonly Resource[]): string[] {
  const wanted = new Map<string, string>();
  const diffable: string[] = [];
  for (const resource of resources) {
    if (resource.kind === 'file') {
      wanted.set(resource.path, sha256Hex(resource.content));
      if ((resource.secrets ?? []).length === 0) diffable.push(resource.path);
    } else if (resource.kind === 'directory' || resource.kind === 'symlink' || resource.kind === 'absent') wanted.set(resource.path, '-');
  }
  if (wanted.size === 0) return [];
  const paths = [...wanted.keys()].map(quoteWord).join(' ');
  const hashes = [...wanted].filter(([, hash]) => hash !== '-').map(([path, hash]) => `[${quoteWord(path)}]=${hash}`).join(' ');
  return [
    `QUOTING_STYLE=literal stat --printf 'F\\t%n\\t%F\\t%a\\t%U\\t%G\\t%N\\n' -- ${paths} 2>/dev/null`,
    `declare -A want=(${hashes})`,
    `declare -A diffable=(${diffable.map((path) => `[${quoteWord(path)}]=1`).join(' ')})`,
    'files=(); for p in "${!want[@]}"; do [ -f "$p" ] && [ ! -L "$p" ] && files+=("$p"); done',
    'if [ ${#files[@]} -gt 0 ]; then',
    '  while read -r sum path; do',
    '    printf "D\\t%s\\t%s\\n" "$path" "$sum"',
    '    if [ "$sum" != "${want[$path]}" ] && [ -n "${diffable[$path]}" ]; then printf "B\\t%s\\t" "$path"; base64 -w0 < "$path"; echo; fi',
    '  done < <(sha256sum -- "${files[@]}")',
    'fi',
  ];
}

function allResources(desire: HostDesire): Resource[] {
  return desire.phases.flatMap((phase) => phase.resources);
}

/**
 * The one read of a host: a shell script whose output holds every fact the plan needs for the
 * desired resources — OS, managed paths (hash, mode, owner; content only where the hash differs,
 * for the diff), packages, services, ufw state and rules, command guards and pending handlers.
 * It only reads. Each line of output starts with a tag the parser knows. Files are read with bash
 * builtins rather than grep or sed: every process spawned costs the host a fork and exec, and the
 * probe is what a no-change run waits for.
 */
export function buildProbeScript(desire: HostDesire, options: { health?: boolean } = {}): string {
  const resources = allResources(desire);
  const lines: string[] = [
    'export LC_ALL=C',
    '. /etc/os-release 2>/dev/null',
    'printf "OS\\t%s\\t%s\\t%s\\n" "${ID:-}" "${VERSION_ID:-}" "${VERSION_CODENAME:-}"',
  ];
  lines.push(...pathProbe(resources));
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
      `while IFS= read -r __l; do printf "S\\t%s\\n" "$__l"; done < <(systemctl show -p Id,LoadState,ActiveState,UnitFileState ${units.map((unit) => quoteWord(`${unit}.service`)).join(' ')} 2>/dev/null)`,
    );
  }
  if (resources.some((r) => r.kind === 'firewall-rule' || r.kind === 'firewall-state')) {
    lines.push(
      'if command -v ufw >/dev/null 2>&1; then printf "W\\tinstalled\\n"; fi',
      // ufw.conf says whether ufw should be on; the ufw-user-input chain says it really is.
      '__on=; [ -r /etc/ufw/ufw.conf ] && while IFS= read -r __l; do [[ $__l == ENABLED=yes* ]] && __on=1; done < /etc/ufw/ufw.conf',
      'if [ -n "$__on" ] && iptables -n -L ufw-user-input >/dev/null 2>&1; then printf "W\\tenabled\\n"; fi',
      `__re='^DEFAULT_INPUT_POLICY="?([A-Z]*)"?$'`,
      '[ -r /etc/default/ufw ] && while IFS= read -r __l; do [[ $__l =~ $__re ]] && printf "W\\tinput\\t%s\\n" "${BASH_REMATCH[1]}"; done < /etc/default/ufw',
      `[ -r /etc/ufw/user.rules ] && while IFS= read -r __l; do [[ $__l == '### tuple ### '* ]] && printf "R\\t%s\\n" "\${__l#'### tuple ### '}"; done < /etc/ufw/user.rules`,
    );
  }
  const folders = resources.filter((r) => r.kind === 'owned-folder').map((r) => r.path);
  if (folders.length > 0) {
    lines.push(
      'shopt -s nullglob dotglob',
      `for __d in ${folders.map(quoteWord).join(' ')}; do [ -d "$__d" ] || continue; __e=("$__d"/*); printf "L\t%s" "$__d"; printf "\t%s" "\${__e[@]##*/}"; echo; done`,
      'shopt -u nullglob dotglob',
    );
  }
  const commands = resources.filter((r) => r.kind === 'command');
  for (const command of commands) {
    if (!isSqlGuard(command.unless)) {
      lines.push(`( ${command.unless} ) >/dev/null 2>&1; printf "G\\t%s\\t%s\\n" ${quoteWord(command.name)} "$?"`);
    }
  }
  const sqlGuards = commands.flatMap((command) => (isSqlGuard(command.unless) ? [{ name: command.name, sql: command.unless.sql }] : []));
  if (sqlGuards.length > 0) lines.push(sqlGuardBatch(sqlGuards));
  const replication = resources.find((r) => r.kind === 'db-replication');
  if (replication) lines.push(dbFactProbe(replication.flavor));
  if (options.health) {
    for (const check of desire.phases.flatMap((phase) => phase.healthChecks ?? [])) {
      lines.push(`printf "C\\t%s\\t%s\\n" ${quoteWord(check.name)} "$( { ${check.script}\n} 2>&1 | base64 -w0)"`);
    }
  }
  lines.push(`[ -f ${PENDING_HANDLERS_FILE} ] && while IFS= read -r __l; do printf "H\\t%s\\n" "$__l"; done < ${PENDING_HANDLERS_FILE}`, 'exit 0');
  return lines.join('\n');
}
