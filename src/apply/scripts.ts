import { quoteCommand, quoteWord } from '../core/shell.js';
import { guardShell } from '../core/mysql-client.js';
import type { AbsentResource, Change, CommandResource, FileResource, FirewallRuleResource, Handler, OwnedFolderResource, ReadyCondition, Validator } from '../core/types.js';
import { PENDING_HANDLERS_FILE } from '../facts/probe.js';
import { INFRA_RULE_COMMENT_PREFIX, ufwDeleteWords } from '../resources/firewall.js';

/**
 * Shell text that carries out a phase's changes on one host. Every value is quoted by quoteWord;
 * file contents travel base64-encoded inside the script (which goes over stdin, not argv).
 * Markers on stdout tell the controller which step failed: `@@fail <step>` then the output.
 */

/**
 * How a root write on a host is kept from being redirected. A local user who can change a folder
 * infra writes into can plant a link where root is about to write, chown or copy, and so have root
 * overwrite or give away any file: every folder on the way to a managed path (links resolved) must
 * be root's and writable by root alone (private_dir), else the step fails naming it. A file is
 * staged inside a folder made for this run by `mktemp -d` beside it (mode 0700, root's: no one
 * else can reach into it), created under umask 077 and given its owner and mode before its first
 * byte, then renamed over the path (rename replaces a link, never follows it). The file it replaces
 * stays, hard-linked, in that folder until the phase validates, to be put back otherwise.
 */
const WRITE_HELPERS = [
  'declare -A __checked=() __stagedir=() __staging=(); __written=()',
  // private_dir <folder> [<path in it>]: the folder need not exist yet (its nearest existing one is checked).
  'private_dir() {',
  '  [[ -n ${__checked[$1]} ]] && return 0',
  '  local d=$1 real p u g a owner name chain=()',
  '  while [[ ! -d $d ]]; do d=${d%/*}; d=${d:-/}; done',
  '  real=$(realpath -e -- "$d" 2>&1) || fail "$real"',
  '  p=$real; while :; do chain+=("$p"); [[ $p == / ]] && break; p=${p%/*}; p=${p:-/}; done',
  '  while read -r u g a owner name; do',
  '    if [[ $u != 0 ]] || (( 8#$a & 8#002 )) || { (( 8#$a & 8#020 )) && [[ $g != 0 ]]; }; then',
  '      fail "refusing to write ${2:-$1}: $name (owner $owner, mode $a) can be changed by a user other than root, who could plant a link there for root to follow; make it owned by root and writable by root only"',
  '    fi',
  '  done < <(stat -c "%u %g %a %U %n" -- "${chain[@]}")',
  '  [[ $d == "$1" ]] && __checked[$1]=1',
  '  return 0',
  '}',
  // Sets __tmp to this run's private folder beside $1 (made on first use), its folder checked first.
  'staging_dir() {',
  '  local dir=${1%/*}; dir=${dir:-/}',
  '  private_dir "$dir" "$1"',
  '  [[ -d $dir ]] || must mkdir -p -- "$dir"',
  '  __checked[$dir]=1',
  '  __tmp=${__stagedir[$dir]}',
  '  if [[ -z $__tmp ]]; then',
  '    __tmp=$(mktemp -d -- "$dir/.infra-XXXXXXXX" 2>&1) || fail "$__tmp"',
  '    __stagedir[$dir]=$__tmp; __staging[$__tmp]=1',
  '  fi',
  '}',
  // stage_file <path> <owner:group> <mode>, the content as base64 on stdin.
  'stage_file() {',
  '  staging_dir "$1"',
  '  local new=$__tmp/new.${1##*/}',
  '  ( umask 077 && : > "$new" ) || fail "cannot create $new"',
  '  must chown -- "$2" "$new"',
  '  must chmod -- "$3" "$new"',
  '  base64 -d > "$new" || fail "cannot write $new"',
  '}',
  'activate_file() {',
  '  local dir=${1%/*}; dir=${dir:-/}; local tmp=${__stagedir[$dir]} name=${1##*/}',
  '  if [[ -e $1 || -L $1 ]]; then must ln -P -- "$1" "$tmp/old.$name"; fi',
  '  __written+=("$1")',
  '  must mv -fT -- "$tmp/new.$name" "$1"',
  '}',
  // Puts back, newest first, every file activated since the last validation.
  'restore_written() {',
  '  local i p dir old',
  '  for (( i = ${#__written[@]} - 1; i >= 0; i-- )); do',
  '    p=${__written[i]}; dir=${p%/*}; dir=${dir:-/}; old=${__stagedir[$dir]}/old.${p##*/}',
  '    if [[ -e $old || -L $old ]]; then mv -fT -- "$old" "$p"; else rm -f -- "$p"; fi',
  '  done',
  '  __written=()',
  '}',
  'discard_staging() { (( ${#__staging[@]} == 0 )) || rm -rf -- "${!__staging[@]}"; __staging=(); __stagedir=(); }',
];

const PRELUDE = [
  'export LC_ALL=C DEBIAN_FRONTEND=noninteractive',
  'step() { __step="$1"; }',
  // Fails the step with a message, after undoing the writes not yet validated (in a change script).
  'fail() { printf "@@fail %s\\n%s\\n" "$__step" "$1"; undo_writes; exit 1; }',
  'undo_writes() { :; }',
  // Runs a command; on failure prints which step failed with the command's output and stops.
  'must() { local out; if ! out=$("$@" 2>&1); then fail "$out"; fi; }',
].join('\n');

/** A change script's prelude: the files it activated are put back when a step fails. */
const CHANGE_PRELUDE = [PRELUDE, ...WRITE_HELPERS, 'undo_writes() { restore_written; discard_staging; }'].join('\n');

function recordPending(handlerIds: readonly string[]): string[] {
  if (handlerIds.length === 0) return [];
  return [
    'step "record pending handlers"',
    `must mkdir -p ${quoteWord(PENDING_HANDLERS_FILE.replace(/\/[^/]+$/, ''))}`,
    ...handlerIds.map(
      (id) => `grep -qxF ${quoteWord(id)} ${PENDING_HANDLERS_FILE} 2>/dev/null || echo ${quoteWord(id)} >> ${PENDING_HANDLERS_FILE}`,
    ),
    'sync',
  ];
}

function installPackages(names: readonly string[]): string[] {
  if (names.length === 0) return [];
  const install = [
    'apt-get', 'install', '-y', '-q', '--no-install-recommends',
    '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', ...names,
  ];
  return [
    `step ${quoteWord(`install packages ${names.join(' ')}`)}`,
    // Package lists are refreshed only when the install cannot find what it needs.
    `${quoteCommand(install)} >/dev/null 2>&1 || { must apt-get update -q; must ${quoteCommand(install)}; }`,
  ];
}

/** The folder a managed path is in. */
function parentOf(path: string): string {
  return path.replace(/\/[^/]*$/, '') || '/';
}

/** Stages a file's new content in the run's private folder beside it (see WRITE_HELPERS). */
function stageFile(file: FileResource): string[] {
  const body = Buffer.from(file.content, 'utf8').toString('base64').replace(/.{1,76}/g, '$&\n');
  return [
    `step ${quoteWord(`write ${file.path}`)}`,
    `stage_file ${quoteCommand([file.path, `${file.owner}:${file.group}`, file.mode])} <<'INFRA_EOF'`,
    body + 'INFRA_EOF',
  ];
}

/** Where entries taken out of owned folders are kept for the operator, one folder per run. */
const REMOVED_DIR = '/var/lib/infra/removed';

/**
 * Moves the entries of an owned folder that infra did not write out of it (into REMOVED_DIR, so a
 * hand-written file can still be recovered), recording each in `__moved` to put back if the
 * config then fails validation. A rename moves a link itself, never what it points at; the
 * run's own staging folders stay.
 */
function clearOwnedFolder(folder: OwnedFolderResource): string[] {
  const keep = folder.keep.map((name) => `[${quoteWord(name)}]=1`).join(' ');
  return [
    `step ${quoteWord(`remove what infra did not write from ${folder.path}`)}`,
    `private_dir ${quoteWord(folder.path)}`,
    `must install -d -m 0700 "$__removed"`,
    `declare -A __keep=(${keep})`,
    'shopt -s nullglob dotglob',
    `for __p in ${quoteWord(folder.path)}/*; do`,
    '  __n=${__p##*/}; [[ -n ${__keep[$__n]} || -n ${__staging[$__p]} || $__n == *.infra-new || $__n == *.infra-bak ]] && continue',
    '  must mv -fT -- "$__p" "$__removed/${__p//\\//%}"; __moved+=("$__p")',
    'done',
    'shopt -u nullglob dotglob',
  ];
}

/** Puts back what clearOwnedFolder moved. */
const RESTORE_MOVED = 'for __p in "${__moved[@]}"; do mv -fT -- "$__removed/${__p//\\//%}" "$__p"; done';

/** Renames the staged file over the path, keeping the file it replaces until validation. */
function activateFile(file: FileResource): string[] {
  return [`step ${quoteWord(`activate ${file.path}`)}`, `activate_file ${quoteWord(file.path)}`];
}

/**
 * How a finished script ended, read from its markers: undefined when it reached `@@done`;
 * otherwise the failed step (`@@fail`) or validator (`@@invalid`) with the output after it, or
 * the exit code and output when it stopped before any marker.
 */
export function scriptFailure(result: { code: number; stdout: string; stderr: string }): string | undefined {
  if (result.code === 0 && /^@@done$/m.test(result.stdout)) return undefined;
  const marker = result.stdout.search(/^@@(fail|invalid) /m);
  if (marker >= 0) {
    return result.stdout.slice(marker).replace(/^@@fail /, 'step failed: ').replace(/^@@invalid /, 'validation failed, nothing activated: ').trim();
  }
  return `exit ${result.code}: ${(result.stderr || result.stdout).trim()}`;
}

/** Runs every validator of the phase; prints `@@invalid <name>` and the validator's output on failure. */
export function validationSteps(validators: readonly Validator[], onFailure: string): string[] {
  return validators.flatMap((validator) => [
    `step ${quoteWord(`validate ${validator.name}`)}`,
    `if ! __out=$( { ${validator.script}; } 2>&1 ); then`,
    `  ${onFailure || ':'}`,
    `  printf "@@invalid %s\\n%s\\n" ${quoteWord(validator.name)} "$__out"; exit 3`,
    'fi',
  ]);
}

function ufwRuleWords(rule: FirewallRuleResource): string[] {
  const from = rule.from === 'any' ? 'any' : rule.from;
  return ['allow', 'proto', rule.proto, 'from', from, 'to', 'any', 'port', String(rule.port)];
}

/**
 * Runs ufw commands in one Python process through ufw's own front end (what /usr/sbin/ufw does for
 * one command, with its lock): each `ufw` run costs a Python start of 0.1-0.2 s of CPU, and a first
 * install on a small host issues about ten of them. The command lists come as JSON in argv (ufw
 * rules hold no secrets); the first failure prints the command and ufw's message and exits 1.
 */
const UFW_BATCH = [
  'import gettext, json, sys',
  'import ufw.common, ufw.frontend',
  'from ufw.util import create_lock, release_lock',
  'gettext.install(ufw.common.programName)',
  'commands = json.loads(sys.argv[1])',
  // ufw reads its own path from argv[0] (a delete stats it).
  "sys.argv = ['/usr/sbin/ufw']",
  "lock = create_lock(lockfile='/run/ufw.lock', dryrun=False)",
  'try:',
  '    for args in commands:',
  '        try:',
  "            pr = ufw.frontend.parse_command(['ufw'] + args)",
  '            ui = ufw.frontend.UFWFrontend(pr.dryrun)',
  "            if 'rule' in pr.data:",
  "                ui.do_action(pr.action, pr.data['rule'], pr.data['iptype'], pr.force)",
  '            else:',
  "                ui.do_action(pr.action, '', '', pr.force)",
  '        except BaseException as e:',
  "            print('ufw %s: %s' % (' '.join(args), getattr(e, 'value', e)))",
  '            sys.exit(1)',
  'finally:',
  '    release_lock(lock)',
].join('\n');

/**
 * The firewall's changes as one step: rules added first, then ufw turned on (only after the rules
 * that keep SSH open exist), then rules infra no longer wants deleted.
 */
function firewallSteps(changes: readonly Change[]): string[] {
  const commands: { what: string; args: string[] }[] = [];
  for (const { resource, action } of changes) {
    if (resource.kind === 'firewall-rule' && action === 'create') {
      commands.push({
        what: `add rule ${resource.port}/${resource.proto} from ${resource.from}`,
        args: [...ufwRuleWords(resource), 'comment', INFRA_RULE_COMMENT_PREFIX + resource.purpose],
      });
    }
  }
  if (changes.some((change) => change.resource.kind === 'firewall-state' && change.action !== 'noop')) {
    commands.push({ what: 'deny incoming by default', args: ['default', 'deny', 'incoming'] }, { what: 'enable', args: ['--force', 'enable'] });
  }
  for (const { resource, action } of changes) {
    if (resource.kind === 'firewall-rule' && action === 'delete') {
      const args = resource.found ? ufwDeleteWords(resource.found) : ['delete', ...ufwRuleWords(resource)];
      commands.push({ what: `delete rule ${resource.port}/${resource.proto} from ${resource.from}`, args });
    }
  }
  if (commands.length === 0) return [];
  return [
    `step ${quoteWord(`ufw: ${commands.map((command) => command.what).join(', ')}`)}`,
    `must python3 - ${quoteWord(JSON.stringify(commands.map((command) => command.args)))} <<'INFRA_UFW'`,
    UFW_BATCH,
    'INFRA_UFW',
  ];
}

/** The handlers a phase's changes trigger, in the order the handlers are declared. */
export function triggeredHandlers(changes: readonly Change[], handlers: readonly Handler[]): string[] {
  const notified = new Set<string>();
  for (const change of changes) {
    if (change.action === 'noop') continue;
    const resource = change.resource;
    if ('notify' in resource) resource.notify?.forEach((id) => notified.add(id));
  }
  return handlers.filter((handler) => notified.has(handler.id)).map((handler) => handler.id);
}

/** The script that installs, in one apt-get, packages that later phases of a run want. */
export function buildPackagesScript(names: readonly string[]): string {
  return [PRELUDE, ...installPackages(names), 'echo @@done'].join('\n');
}

/**
 * The script for a phase's changes, in this order: record the handlers it will need (so a run cut
 * short still reloads next time), packages (but those `installedEarlier` in this run by
 * buildPackagesScript), directories, files (staged, activated, validated as a whole tree, rolled
 * back if invalid), commands, firewall, services.
 */
export function buildChangeScript(
  changes: readonly Change[],
  handlerIds: readonly string[],
  validators: readonly Validator[],
  installedEarlier: ReadonlySet<string> = new Set(),
): string {
  const active = changes.filter((change) => change.action !== 'noop');
  const of = <K extends Change['resource']['kind']>(kind: K) =>
    active.filter((change) => change.resource.kind === kind).map((change) => change.resource as Extract<Change['resource'], { kind: K }>);
  const files = of('file');
  const toInstall = of('package').map((p) => p.name).filter((name) => !installedEarlier.has(name));
  const lines: string[] = [CHANGE_PRELUDE, ...recordPending(handlerIds), ...installPackages(toInstall)];
  for (const dir of of('directory')) {
    const path = quoteWord(dir.path);
    lines.push(
      `step ${quoteWord(`directory ${dir.path}`)}`,
      `private_dir ${quoteWord(parentOf(dir.path))} ${path}`,
      // install would chown and chmod what a link there points at.
      `if [[ -L ${path} ]]; then fail ${quoteWord(`${dir.path} is a link; infra keeps a folder there`)}; fi`,
      `must install -d -m ${quoteWord(dir.mode)} -o ${quoteWord(dir.owner)} -g ${quoteWord(dir.group)} ${path}`,
    );
  }
  for (const file of files) lines.push(...stageFile(file));
  for (const file of files) lines.push(...activateFile(file));
  for (const link of of('symlink')) {
    // A new link is made in the staging folder beside the old one and renamed over it, so the switch is atomic.
    const staged = `"$__tmp"/${quoteWord(`link.${link.path.replace(/^.*\//, '')}`)}`;
    lines.push(
      `step ${quoteWord(`symlink ${link.path}`)}`,
      `staging_dir ${quoteWord(link.path)}`,
      `must ln -s -- ${quoteWord(link.target)} ${staged}`,
      `must mv -fT -- ${staged} ${quoteWord(link.path)}`,
    );
  }
  // A package installed since the host was read (by this script or earlier in the run) can bring
  // back a path that was absent then (nginx's default site), so every absent path is enforced.
  const installs = of('package').length > 0;
  const absent = changes.filter((c) => c.resource.kind === 'absent' && (installs || c.action !== 'noop')).map((c) => c.resource as AbsentResource);
  for (const gone of absent) {
    // rm removes a link, not what it points at, and does not follow links inside a folder it removes.
    lines.push(`step ${quoteWord(`remove ${gone.path}`)}`, `private_dir ${quoteWord(parentOf(gone.path))} ${quoteWord(gone.path)}`, `must rm -rf -- ${quoteWord(gone.path)}`);
  }
  const folders = of('owned-folder');
  if (folders.length > 0) {
    lines.push(`__removed=${REMOVED_DIR}/$(date -u +%Y%m%dT%H%M%SZ)-$$; __moved=()`);
    for (const folder of folders) lines.push(...clearOwnedFolder(folder));
  }
  if (files.length > 0 || of('symlink').length > 0 || absent.length > 0 || folders.length > 0) {
    const restore = ['undo_writes', folders.length > 0 ? RESTORE_MOVED : ''].filter(Boolean).join('; ');
    lines.push(...validationSteps(validators, restore), '__written=(); discard_staging');
  }
  for (const change of active.filter((c) => c.resource.kind === 'command')) {
    const command = change.resource as CommandResource;
    // A command the plan updates runs whatever its guard says: a path it follows changed
    // (CommandResource.runsWhenChanged), which the guard may not see.
    const guard = change.action === 'update' ? 'false' : guardShell(command.unless);
    // The script runs inline (not through `bash -c`) so a secret in it never reaches a process's argv.
    lines.push(
      `step ${quoteWord(`command ${command.name}`)}`,
      `if ! ( ${guard} ) >/dev/null 2>&1; then`,
      `  if ! __out=$( { ${command.script}\n} 2>&1 ); then printf "@@fail %s\\n%s\\n" "$__step" "$__out"; exit 1; fi`,
      'fi',
    );
  }
  lines.push(...firewallSteps(active));
  for (const service of of('service')) {
    const name = quoteWord(service.name);
    lines.push(
      `step ${quoteWord(`service ${service.name}`)}`,
      // A masked unit refuses every start: unmasking one that is not masked changes nothing.
      `must systemctl unmask ${name}`,
      service.enabled ? `must systemctl enable ${name}` : `must systemctl disable ${name}`,
      // A unit its package started before its configuration was written may have crash-looped into
      // systemd's start limit, which refuses a plain start.
      ...(service.running ? [`systemctl reset-failed ${name} 2>/dev/null`, `must systemctl start ${name}`] : [`must systemctl stop ${name}`]),
    );
  }
  lines.push('echo @@done');
  return lines.join('\n');
}

/** How long a handler's health check may take to pass after its reload or restart. */
const HEALTH_CHECK_SECONDS = 10;

/**
 * Runs `check` (shell text) every 0.2 s until it succeeds; after `seconds` without success, fails
 * the script as `label` (a shell word) with the check's last output.
 */
function retryUntil(check: string, seconds: number, label: string): string[] {
  return [
    `__end=$((SECONDS + ${seconds})); __ok=`,
    `while :; do if __out=$( { ${check}; } 2>&1 ); then __ok=1; break; fi; [ "$SECONDS" -ge "$__end" ] && break; sleep 0.2; done`,
    `if [ -z "$__ok" ]; then printf "@@fail %s\\n%s\\n" ${label} "$__out"; exit 1; fi`,
  ];
}

/** Waits on a host until a phase's ready condition holds (see PhaseDesire.ready). */
export function buildReadyScript(ready: ReadyCondition): string {
  return [PRELUDE, `step ${quoteWord(ready.name)}`, ...retryUntil(ready.script, ready.seconds, `"$__step (not within ${ready.seconds} s)"`), 'echo @@done'].join('\n');
}

/**
 * Runs handlers: the phase's validators first (a file may have been put in place by a run that was
 * cut off before validating), then each reload or restart, confirmed: the unit must be active and
 * serving with new processes (a restart gets a new main PID; a reload new worker processes), and
 * the handler's health check must pass. Each confirmed handler is cleared from the pending list.
 */
export function buildHandlerScript(handlers: readonly Handler[], validators: readonly Validator[]): string {
  const lines: string[] = [
    PRELUDE,
    'children() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d " " | sort; }',
    ...validationSteps(validators, ''),
  ];
  for (const handler of handlers) {
    const unit = quoteWord(`${handler.service}.service`);
    lines.push(
      `step ${quoteWord(`${handler.action} ${handler.service}`)}`,
      `__pid=$(systemctl show -p MainPID --value ${unit}); __before=$(children "$__pid")`,
    );
    const restart = [
      // A unit that crash-looped before its configuration was written (an exporter started by its
      // package, or by the phase, before the service it reads was ready) may have hit systemd's
      // start limit: clear it, or the restart is refused with "start request repeated too quickly".
      `systemctl reset-failed ${unit} 2>/dev/null`,
      `must systemctl restart ${unit}`,
      `__ok=; for __i in $(seq 50); do __now=$(systemctl show -p MainPID --value ${unit}); if systemctl is-active -q ${unit} && [ "$__now" != 0 ] && [ "$__now" != "$__pid" ]; then __ok=1; break; fi; sleep 0.1; done`,
    ];
    if (handler.action === 'restart') {
      lines.push(...restart);
    } else {
      // A reload of a stopped unit starts it instead. A reload must bring new workers: one that
      // leaves only the old processes serving has failed, whatever systemctl said.
      lines.push(
        `if systemctl is-active -q ${unit}; then`,
        `  must systemctl reload ${unit}`,
        handler.reloadConfirmation === 'active'
          ? `  sleep 0.5; __ok=; systemctl is-active -q ${unit} && __ok=1`
          : `  __ok=; for __i in $(seq 100); do if systemctl is-active -q ${unit} && [ -n "$(comm -13 <(echo "$__before") <(children "$__pid"))" ]; then __ok=1; break; fi; sleep 0.1; done`,
        'else',
        ...restart.map((line) => '  ' + line),
        'fi',
      );
    }
    lines.push(
      `if [ -z "$__ok" ]; then printf "@@fail %s\\n%s\\n" "$__step" "$(systemctl status --no-pager -n 20 ${unit} 2>&1)"; exit 1; fi`,
    );
    if (handler.healthCheck) lines.push(...retryUntil(handler.healthCheck, HEALTH_CHECK_SECONDS, '"$__step health check"'));
    lines.push(
      `if [ -f ${PENDING_HANDLERS_FILE} ]; then grep -vxF ${quoteWord(handler.id)} ${PENDING_HANDLERS_FILE} > ${PENDING_HANDLERS_FILE}.new; mv -f ${PENDING_HANDLERS_FILE}.new ${PENDING_HANDLERS_FILE}; fi`,
    );
  }
  lines.push('echo @@done');
  return lines.join('\n');
}
