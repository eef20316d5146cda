import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { quoteCommand, quoteWord } from '../core/shell.js';
import type { PhaseDesire, Resource } from '../core/types.js';
import type { Host, Inventory } from '../inventory/model.js';
import { renderTemplate } from './render.js';
import { APP_FAIL_TIMEOUT_SECONDS } from './web.js';
import { requireDbSecrets, type RoleSecrets } from './secrets.js';
import { hostNamed } from './topology.js';

export const APP_ROOT = '/opt/app';
export const APP_CURRENT = `${APP_ROOT}/current`;
export const APP_ENV_FILE = '/etc/app/app.env';
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

/**
 * The app phase: the example app's current release under /opt/app/releases/<hash>, switched by
 * the /opt/app/current link, run by a hardened systemd unit as user `app`. Serial: the app hosts
 * restart one at a time, so nginx always has one to send requests to.
 */
export function appPhase(inventory: Inventory, host: Host, secrets: RoleSecrets): PhaseDesire {
  const db = requireDbSecrets(secrets, host.name);
  const files = readAppSource(inventory.app.source);
  const releaseDir = `${APP_ROOT}/releases/${releaseId(files)}`;
  const restart = 'restart:app';
  const root = { owner: 'root', group: 'root' };

  const settings: [string, string][] = [
    ['APP_HOST', host.address],
    ['APP_PORT', String(inventory.app.port)],
    ['DB_PRIMARY', hostNamed(inventory, inventory.db.primary).address],
    ['DB_REPLICAS', inventory.db.replicas.map((name) => hostNamed(inventory, name).address).join(',')],
    ['DB_NAME', inventory.db.name],
    ['DB_USER', inventory.db.user],
    ['DB_PASSWORD', db.appPassword.reveal()],
  ];
  const environment = renderTemplate(
    'app/app.env.ejs',
    { settings: settings.map(([name, value]) => [name, environmentValue(value)]) },
    inventory.templatesDir,
  );
  const unit = renderTemplate('app/app.service.ejs', { domain: inventory.domain, envFile: APP_ENV_FILE, currentDir: APP_CURRENT }, inventory.templatesDir);
  const unitHash = createHash('sha256').update(unit).digest('hex');

  const resources: Resource[] = [
    { kind: 'package', name: 'python3' },
    { kind: 'package', name: 'python3-pymysql' },
    { kind: 'directory', path: APP_ROOT, mode: '0755', ...root },
    { kind: 'directory', path: `${APP_ROOT}/releases`, mode: '0755', ...root },
    { kind: 'directory', path: releaseDir, mode: '0755', ...root },
    // Owned by root: the app can read its code but not change it.
    ...files.map((file): Resource => ({
      kind: 'file',
      path: `${releaseDir}/${file.path}`,
      content: file.content,
      mode: file.executable ? '0755' : '0644',
      ...root,
    })),
    { kind: 'symlink', path: APP_CURRENT, target: releaseDir, notify: [restart] },
    { kind: 'directory', path: '/etc/app', mode: '0755', ...root },
    // root:root 0600 rather than group app: systemd reads it as root, and files are written before
    // commands run, so the app group may not exist yet when this file is first written.
    { kind: 'file', path: APP_ENV_FILE, content: environment, mode: '0600', ...root, secrets: [db.appPassword], notify: [restart] },
    { kind: 'file', path: APP_UNIT, content: unit, mode: '0644', ...root, notify: [restart] },
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
    { kind: 'service', name: 'app', enabled: true, running: true },
  ];
  const pythonFiles = files.filter((file) => file.path.endsWith('.py')).map((file) => `${releaseDir}/${file.path}`);
  return {
    phase: 'app',
    serial: true,
    // nginx keeps a restarted app host out of rotation for its fail_timeout after the failed
    // requests of the restart: the next app host waits that long, so two are never out at once.
    settleSeconds: APP_FAIL_TIMEOUT_SECONDS + 1,
    resources,
    handlers: [
      {
        id: restart,
        service: 'app',
        action: 'restart',
        healthCheck: quoteCommand(['curl', '-fsS', '-o', '/dev/null', `http://${host.address}:${inventory.app.port}/health`]),
      },
    ],
    validators: [
      {
        // Python has no config check; a syntax error in the release is caught before the switch.
        name: 'app code parses',
        script: quoteCommand(['python3', '-c', 'import ast, sys\nfor path in sys.argv[1:]:\n    ast.parse(open(path).read(), path)', ...pythonFiles]),
      },
    ],
  };
}
