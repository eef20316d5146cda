import { quoteWord } from '../core/shell.js';
import type { Change, Handler, ReadyCondition, Validator } from '../core/types.js';
import { APPLY_FRAGMENTS } from '../resources/index.js';
import { installPackages } from '../resources/package.js';

/**
 * Shell text that carries out a phase's changes on one host. Every value is quoted by quoteWord;
 * file contents travel base64-encoded inside the script (which goes over stdin, not argv).
 * Markers on stdout tell the controller which step failed: `@@fail <step>` then the output.
 * Each resource kind's steps come from its module (src/resources/); here are the script's frame,
 * the safe-write helpers the kinds' steps call, validation and handlers.
 */

/**
 * The handlers a host owes: recorded by a change script before its changes, cleared by the handler
 * script once each is confirmed, read by the probe so a run cut short reloads in the next one.
 */
export const PENDING_HANDLERS_FILE = '/var/lib/infra/pending-handlers';

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
    ...handlerIds.map((id) => `grep -qxF ${quoteWord(id)} ${PENDING_HANDLERS_FILE} 2>/dev/null || echo ${quoteWord(id)} >> ${PENDING_HANDLERS_FILE}`),
    'sync',
  ];
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
    return result.stdout
      .slice(marker)
      .replace(/^@@fail /, 'step failed: ')
      .replace(/^@@invalid /, 'validation failed, nothing activated: ')
      .trim();
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

/**
 * The handlers a phase's changes trigger, in the order the handlers are declared. Changes run in
 * order, so a command that carries out a handler (see CommandResource.carriesOut) settles what the
 * changes before it asked for; a change after it asks again.
 */
export function triggeredHandlers(changes: readonly Change[], handlers: readonly Handler[]): string[] {
  const notified = new Set<string>();
  for (const change of changes) {
    if (change.action === 'noop') continue;
    const resource = change.resource;
    if (resource.kind === 'command') resource.carriesOut?.forEach((id) => notified.delete(id));
    if ('notify' in resource) resource.notify?.forEach((id) => notified.add(id));
  }
  return handlers.filter((handler) => notified.has(handler.id)).map((handler) => handler.id);
}

/** The script that installs, in one apt-get, packages that later phases of a run want. */
export function buildPackagesScript(names: readonly string[]): string {
  return [PRELUDE, ...installPackages(names), 'echo @@done'].join('\n');
}

/**
 * The script for a phase's changes: first the handlers it will need are recorded (so a run cut
 * short still reloads next time), then the changes' steps (changeSteps).
 */
export function buildChangeScript(
  changes: readonly Change[],
  handlerIds: readonly string[],
  validators: readonly Validator[],
  installedEarlier: ReadonlySet<string> = new Set(),
): string {
  return [CHANGE_PRELUDE, ...recordPending(handlerIds), ...changeSteps(changes, validators, installedEarlier), 'echo @@done'].join('\n');
}

/** The kinds whose steps the phase's validators check run before them all (see ApplyFragment.validated). */
const LAST_VALIDATED = Math.max(...APPLY_FRAGMENTS.filter(({ fragment }) => fragment.validated).map(({ fragment }) => fragment.order));

/**
 * Each kind's steps for a phase's changes, in their order: packages (but those `installedEarlier`
 * in this run by buildPackagesScript), directories, files staged then activated, symlinks, absent
 * paths, owned folders; then the phase's validators, which put all of those back if the tree is
 * invalid; then commands, firewall, services.
 */
export function changeSteps(changes: readonly Change[], validators: readonly Validator[], installedEarlier: ReadonlySet<string> = new Set()): string[] {
  const lines: string[] = [];
  const restores: string[] = [];
  for (const { fragment, kinds } of APPLY_FRAGMENTS) {
    const steps = fragment.steps(
      changes.filter((change) => kinds.has(change.resource.kind)),
      { phaseChanges: changes, installedEarlier },
    );
    lines.push(...steps);
    if (fragment.validated && steps.length > 0) restores.push(fragment.validated.restore ?? '');
    if (fragment.order === LAST_VALIDATED && restores.length > 0) {
      lines.push(...validationSteps(validators, ['undo_writes', ...restores].filter(Boolean).join('; ')), '__written=(); discard_staging');
    }
  }
  return lines;
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
  return [
    PRELUDE,
    `step ${quoteWord(ready.name)}`,
    ...retryUntil(ready.script, ready.seconds, `"$__step (not within ${ready.seconds} s)"`),
    'echo @@done',
  ].join('\n');
}

/**
 * Runs handlers: the phase's validators first (a file may have been put in place by a run that was
 * cut off before validating), then each reload or restart, confirmed: the unit must be active and
 * serving with new processes (a restart gets a new main PID; a reload new worker processes), and
 * the handler's health check must pass. Each confirmed handler is cleared from the pending list.
 */
export function buildHandlerScript(handlers: readonly Handler[], validators: readonly Validator[]): string {
  const lines: string[] = [PRELUDE, 'children() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d " " | sort; }', ...validationSteps(validators, '')];
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
    lines.push(`if [ -z "$__ok" ]; then printf "@@fail %s\\n%s\\n" "$__step" "$(systemctl status --no-pager -n 20 ${unit} 2>&1)"; exit 1; fi`);
    if (handler.healthCheck) lines.push(...retryUntil(handler.healthCheck, HEALTH_CHECK_SECONDS, '"$__step health check"'));
    lines.push(
      `if [ -f ${PENDING_HANDLERS_FILE} ]; then grep -vxF ${quoteWord(handler.id)} ${PENDING_HANDLERS_FILE} > ${PENDING_HANDLERS_FILE}.new; mv -f ${PENDING_HANDLERS_FILE}.new ${PENDING_HANDLERS_FILE}; fi`,
    );
  }
  lines.push('echo @@done');
  return lines.join('\n');
}
