import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { quoteCommand, quoteWord } from '../core/shell.js';
import type { CommandResource, Handler, PhaseDesire, Resource, Validator } from '../core/types.js';
import type { Host, Inventory } from '../inventory/model.js';
import type { RoleDefinition } from './definition.js';
import { renderTemplate } from './render.js';
import { APP_FAIL_TIMEOUT_SECONDS } from './web.js';
import { requireDbCaCertificate, requireDbSecrets, type RoleSecrets } from './secrets.js';
import { hostNamed, hostsWithRole } from './topology.js';

export const APP_ROOT = '/opt/app';
export const APP_CURRENT = `${APP_ROOT}/current`;
export const APP_RELEASES = `${APP_ROOT}/releases`;
/**
 * The releases in the order they became current, one id a line, oldest first: what "previous"
 * means for `infra rollback` and "newest" for pruning. Kept on the host, since it holds the order
 * of runs from any controller, and read line by line, since mtimes change under a copy or touch.
 */
export const RELEASE_HISTORY = `${APP_RELEASES}/.history`;
/** Lines the history keeps: it is read by every probe, so it stays short. */
const HISTORY_LINES = 100;
/** A release's name as releaseId makes it. */
export const RELEASE_ID = /^[0-9a-f]{12}$/;
export const APP_ENV_FILE = '/etc/app/app.env';
/** infra's CA, which the app verifies the db servers' certificates against. */
export const APP_DB_CA_FILE = '/etc/app/db-ca.crt';
const APP_UNIT = '/etc/systemd/system/app.service';
/** Left out of a release: caches and version control, which differ between checkouts. */
const IGNORED_NAMES = new Set(['__pycache__', '.git', '.pytest_cache']);

export interface AppFile {
  /** Path inside the source folder, with forward slashes. */
  path: string;
  content: string;
  executable: boolean;
}

/** The app's files, in a stable order. Text only: file resources carry UTF-8 content. */
export function readAppSource(dir: string): AppFile[] {
  const files: AppFile[] = [];
  const walk = (relative: string) => {
    for (const name of readdirSync(join(dir, relative)).sort()) {
      if (IGNORED_NAMES.has(name) || name.endsWith('.pyc')) continue;
      const path = relative ? `${relative}/${name}` : name;
      const stat = statSync(join(dir, path));
      if (stat.isDirectory()) {
        walk(path);
      } else if (stat.isFile()) {
        const bytes = readFileSync(join(dir, path));
        const content = bytes.toString('utf8');
        if (!Buffer.from(content, 'utf8').equals(bytes)) throw new Error(`app.source: ${path} is not UTF-8 text; only text files can be deployed`);
        files.push({ path, content, executable: (stat.mode & 0o111) !== 0 });
      } else {
        throw new Error(`app.source: ${path} is neither a file nor a folder`);
      }
    }
  };
  walk('');
  if (!files.some((file) => file.path === 'app.py')) throw new Error(`app.source ${dir} has no app.py`);
  return files;
}

/** A release's name: a short hash of every file's path, mode and content, so it changes exactly when they do. */
export function releaseId(files: readonly AppFile[]): string {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file.path}\0${file.executable ? '0755' : '0644'}\0`);
    hash.update(createHash('sha256').update(file.content).digest('hex') + '\n');
  }
  return hash.digest('hex').slice(0, 12);
}

/**
 * A value for a systemd EnvironmentFile (and a POSIX shell): double-quoted with \ " $ ` escaped.
 * A newline cannot be expressed, so it is refused.
 */
export function environmentValue(value: string): string {
  if (/[\n\r]/.test(value)) throw new Error('an environment value cannot contain a line break');
  return `"${value.replace(/[\\"$`]/g, (char) => '\\' + char)}"`;
}

export function releaseDir(id: string): string {
  return `${APP_RELEASES}/${id}`;
}

/**
 * Bash (builtins only: the probe runs it on every host) that leaves in `__last` the newest entry
 * of the release history, empty when there is none.
 */
const LAST_HISTORY_ENTRY = [
  '__last=',
  `[[ -f ${quoteWord(RELEASE_HISTORY)} ]] && while IFS= read -r __line || [[ -n $__line ]]; do [[ -n $__line ]] && __last=$__line; done < ${quoteWord(RELEASE_HISTORY)}`,
].join('\n');

/**
 * Records `id` as the newest entry of the release history once `current` points at it (commands
 * run after the symlink is switched). A host without a history (its releases were made before
 * infra kept one) starts it from its other releases, oldest first by mtime: the order is a guess
 * once, and from then on the history's own.
 */
export function releaseHistoryCommand(id: string): CommandResource {
  const history = quoteWord(RELEASE_HISTORY);
  const staged = quoteWord(RELEASE_HISTORY + '.infra-new');
  const olderReleases = [
    quoteCommand(['find', APP_RELEASES, '-mindepth', '1', '-maxdepth', '1', '-type', 'd', '!', '-name', '.*', '!', '-name', id, '-printf', '%T@ %f\\n']),
    quoteCommand(['sort', '-n']),
    quoteCommand(['cut', '-d', ' ', '-f', '2']),
  ].join(' | ');
  return {
    kind: 'command',
    name: `release history ends with ${id}`,
    script: [
      `{ if [[ -f ${history} ]]; then ${quoteCommand(['tail', '-n', String(HISTORY_LINES - 1), '--', RELEASE_HISTORY])}; else ${olderReleases}; fi`,
      `echo ${quoteWord(id)}; } > ${staged}`,
      `chmod 0644 ${staged}`,
      `mv -f -- ${staged} ${history}`,
    ].join(' && '),
    unless: `${LAST_HISTORY_ENTRY}\n[[ $__last == ${quoteWord(id)} ]]`,
  };
}

/**
 * Bash (builtins only) that lists in `__prune` the release directories to remove: all but the
 * newest `keep` releases of the history, `id` counted as the newest (at probe time it is not
 * recorded yet, at apply time it is), and never the one `current` points at. Without a history
 * it lists nothing and counts in `__others` the releases other than `id`.
 */
function releasesToPrune(id: string, keep: number): string {
  const history = quoteWord(RELEASE_HISTORY);
  return [
    `declare -A __kept=([${quoteWord(id)}]=1); __n=1; __prune=(); __others=0`,
    `if [[ -f ${history} ]]; then`,
    `  __history=(); while IFS= read -r __line || [[ -n $__line ]]; do [[ -n $__line ]] && __history+=("$__line"); done < ${history}`,
    `  for ((__i = \${#__history[@]} - 1; __i >= 0 && __n < ${keep}; __i--)); do`,
    '    __id=${__history[__i]}; [[ -n ${__kept[$__id]} ]] || { __kept[$__id]=1; __n=$((__n + 1)); }',
    '  done',
    'fi',
    `for __dir in ${quoteWord(APP_RELEASES)}/*/; do`,
    '  __dir=${__dir%/}; __id=${__dir##*/}',
    `  [[ -d $__dir && $__id != ${quoteWord(id)} ]] || continue`,
    '  __others=$((__others + 1))',
    `  [[ -f ${history} && -z \${__kept[$__id]} && ! $__dir -ef ${quoteWord(APP_CURRENT)} ]] && __prune+=("$__dir")`,
    'done',
  ].join('\n');
}

/**
 * Removes the release directories older than the newest `keep` of the history (never the current
 * release nor the one before it: keep is at least 2). Its guard holds when there is nothing to
 * remove, so a run that deploys nothing new does nothing here. A host without a history gets one
 * from the history command, which runs first; until then the guard compares the count.
 */
export function pruneReleasesCommand(id: string, keep: number): CommandResource {
  const history = quoteWord(RELEASE_HISTORY);
  return {
    kind: 'command',
    name: `keep the newest ${keep} releases`,
    script: `${releasesToPrune(id, keep)}\nif [[ \${#__prune[@]} -gt 0 ]]; then rm -rf -- "\${__prune[@]}"; fi`,
    unless: `${releasesToPrune(id, keep)}\nif [[ -f ${history} ]]; then [[ \${#__prune[@]} -eq 0 ]]; else [[ $__others -lt ${keep} ]]; fi`,
  };
}

/** Restarts the app; the restart counts once the host answers its own /health. */
function restartHandler(inventory: Inventory, host: Host): Handler {
  return {
    id: 'restart:app',
    service: 'app',
    action: 'restart',
    healthCheck: quoteCommand(['curl', '-fsS', '-o', '/dev/null', `http://${host.address}:${inventory.app.port}/health`]),
  };
}

/** Python has no config check; a syntax error in a release is caught before the app restarts into it. */
function releaseParses(dir: string): Validator {
  return {
    name: 'app code parses',
    script: quoteCommand([
      'python3',
      '-c',
      'import ast, pathlib, sys\nfor path in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):\n    ast.parse(path.read_text(), str(path))',
      dir,
    ]),
  };
}

/**
 * Serial: the app hosts restart one at a time, so nginx always has one to send requests to. nginx
 * keeps a restarted app host out of rotation for its fail_timeout after the failed requests of the
 * restart: the next app host waits that long, so two are never out at once.
 */
const ROLLING_RESTART = { serial: true, settleSeconds: APP_FAIL_TIMEOUT_SECONDS + 1 } as const;

const APP_SERVICE: Resource = { kind: 'service', name: 'app', enabled: true, running: true };

/**
 * The app phase of `infra rollback`: `current` switched back to release `id` (which must exist),
 * recorded in the history, and the app restarted with the health check and pace of a deploy.
 * The service is listed so that a host serving the app counts as serving: it goes in turn.
 */
export function appRollbackPhase(inventory: Inventory, host: Host, id: string): PhaseDesire {
  const restart = restartHandler(inventory, host);
  return {
    phase: 'app',
    ...ROLLING_RESTART,
    resources: [{ kind: 'symlink', path: APP_CURRENT, target: releaseDir(id), notify: [restart.id] }, releaseHistoryCommand(id), APP_SERVICE],
    handlers: [restart],
    validators: [releaseParses(releaseDir(id))],
  };
}

/**
 * The app phase: the example app's current release under /opt/app/releases/<hash>, switched by
 * the /opt/app/current link, run by a hardened systemd unit as user `app`. Serial: the app hosts
 * restart one at a time, so nginx always has one to send requests to.
 */
export function appPhase(inventory: Inventory, host: Host, secrets: RoleSecrets): PhaseDesire {
  const db = requireDbSecrets(secrets, host.name);
  const dbCaCertificate = requireDbCaCertificate(secrets, host.name);
  const files = readAppSource(inventory.app.source);
  const release = releaseId(files);
  const dir = releaseDir(release);
  const restart = restartHandler(inventory, host);
  const root = { owner: 'root', group: 'root' };

  const settings: [string, string][] = [
    ['APP_HOST', host.address],
    ['APP_PORT', String(inventory.app.port)],
    ['DB_PRIMARY', hostNamed(inventory, inventory.db.primary).address],
    ['DB_REPLICAS', inventory.db.replicas.map((name) => hostNamed(inventory, name).address).join(',')],
    ['DB_NAME', inventory.db.name],
    ['DB_USER', inventory.db.user],
    ['DB_PASSWORD', db.appPassword.reveal()],
    ['DB_SSL_CA', APP_DB_CA_FILE],
  ];
  const environment = renderTemplate('app/app.env.ejs', { settings: settings.map(([name, value]) => [name, environmentValue(value)]) }, inventory.templatesDir);
  const unit = renderTemplate('app/app.service.ejs', { domain: inventory.domain, envFile: APP_ENV_FILE, currentDir: APP_CURRENT }, inventory.templatesDir);
  const unitHash = createHash('sha256').update(unit).digest('hex');

  const resources: Resource[] = [
    { kind: 'package', name: 'python3' },
    { kind: 'package', name: 'python3-pymysql' },
    // pymysql needs it for the db accounts' ed25519 authentication (MariaDB).
    { kind: 'package', name: 'python3-nacl' },
    { kind: 'directory', path: APP_ROOT, mode: '0755', ...root },
    { kind: 'directory', path: APP_RELEASES, mode: '0755', ...root },
    { kind: 'directory', path: dir, mode: '0755', ...root },
    // Owned by root: the app can read its code but not change it.
    ...files.map((file): Resource => ({
      kind: 'file',
      path: `${dir}/${file.path}`,
      content: file.content,
      mode: file.executable ? '0755' : '0644',
      ...root,
    })),
    { kind: 'symlink', path: APP_CURRENT, target: dir, notify: [restart.id] },
    // In this order, after the switch: the history records the release, then pruning reads it.
    releaseHistoryCommand(release),
    pruneReleasesCommand(release, inventory.app.keepReleases),
    { kind: 'directory', path: '/etc/app', mode: '0755', ...root },
    // root:root 0600 rather than group app: systemd reads it as root, and files are written before
    // commands run, so the app group may not exist yet when this file is first written.
    { kind: 'file', path: APP_ENV_FILE, content: environment, mode: '0600', ...root, secrets: [db.appPassword], notify: [restart.id] },
    { kind: 'file', path: APP_DB_CA_FILE, content: dbCaCertificate, mode: '0644', ...root, notify: [restart.id] },
    { kind: 'file', path: APP_UNIT, content: unit, mode: '0644', ...root, notify: [restart.id] },
    {
      kind: 'command',
      name: 'system user app',
      script: quoteCommand(['useradd', '--system', '--user-group', '--home-dir', '/nonexistent', '--no-create-home', '--shell', '/usr/sbin/nologin', 'app']),
      unless: 'id -u app',
    },
    {
      kind: 'command',
      name: 'systemd loaded app.service',
      script: 'systemctl daemon-reload',
      // The guard holds the desired unit's hash: in the probe (before the new unit is written) a
      // changed unit fails it; at apply, after the write, systemd reports it must reload. A unit
      // file rewritten for its mode or owner alone passes the guard when read: it runs all the same.
      runsWhenChanged: [APP_UNIT],
      unless: [
        `sha256sum -c --status <<< ${quoteWord(`${unitHash}  ${APP_UNIT}`)}`,
        // One systemctl for both properties; it prints them in its own order, one per line.
        '__unit=$(systemctl show -p LoadState,NeedDaemonReload app.service)',
        `[[ $'\\n'$__unit$'\\n' == *$'\\nLoadState=loaded\\n'* && $'\\n'$__unit$'\\n' == *$'\\nNeedDaemonReload=no\\n'* ]]`,
      ].join(' && '),
    },
    APP_SERVICE,
  ];
  return { phase: 'app', ...ROLLING_RESTART, resources, handlers: [restart], validators: [releaseParses(dir)] };
}

export const appRole: RoleDefinition = {
  name: 'app',
  tier: 3,
  // python3-nacl: pymysql's ed25519 authentication (the db accounts' plugin on MariaDB).
  packages: ['python3', 'python3-pymysql', 'python3-nacl'],
  openings: [{ port: (inventory) => inventory.app.port, from: [{ role: 'web' }], purpose: 'app (web)' }],
  secrets: ['db', 'dbCaCertificate'],
  render: appPhase,
  healthChecks: () => [],
  graphTiers: (inventory) => [{ id: 'app', title: 'APP', note: 'application', hosts: hostsWithRole(inventory, 'app') }],
  lab: { firstOctet: 31, overflowFirstOctet: 151, defaultCount: 2, maxCount: 50, countHelp: 'app hosts' },
};
