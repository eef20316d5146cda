/**
 * bench/ansible must write on every host exactly what infra writes, or bench/compare.mjs's
 * "no-change" pairs rewrite files both ways and time something else (issue 21). No lab: infra's
 * desired files come from its roles (as `infra render` gets them, secrets included), the Ansible
 * port's from bench/ansible/render.py, which renders the playbook's template, copy and file tasks
 * with Jinja2 from the variables inventory.py computes out of the same inventory and state dir.
 * Needs python3 with Jinja2 and PyYAML (scripts/system-deps.sh installs Debian's).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectRun, renderDesires } from '../../src/engine/prepare.js';
import type { HostDesire } from '../../src/core/types.js';
import { renderLabInventory } from '../../src/lab/inventory-writer.js';
import { DEFAULT_COUNTS, parseSubnet, planHosts } from '../../src/lab/plan.js';
import { APP_RELEASES, APP_ROOT, pruneReleasesCommand, releaseHistoryCommand } from '../../src/roles/app.js';

const ROOT = resolve(import.meta.dirname, '../..');
const RENDER_PY = join(ROOT, 'bench/ansible/render.py');
const EXAMPLE_APP = join(ROOT, 'examples/app');
/** Debian's interpreter, the one Debian's Ansible runs on, when there is one. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/**
 * Tasks of the port that read the host before they write (so they cannot be rendered without
 * one), each with the registered variable it needs. A new one must be added here knowingly.
 */
const HOST_DEPENDENT_TASKS: Record<string, { task: string; needs: string }[]> = {
  lb: [],
  // infra writes it by a command, from the deployed certificate's end date read on the host.
  web: [{ task: "Write the certificate's expiry for the node exporter, readable by it", needs: 'certificate_not_after' }],
  // Rendered with a host's state in 'the app's release history and pruning' below.
  app: [
    { task: 'Record the release as the newest in the history', needs: 'app_releases_found' },
    { task: 'Remove the releases older than the newest kept', needs: 'app_releases_found' },
  ],
  db: [],
};

interface AnsibleHost {
  files: Record<string, { mode?: string; owner?: string; group?: string }>;
  links: Record<string, string>;
  directories: Record<string, { mode?: string; owner?: string; group?: string }>;
  absent: string[];
  host_dependent: { task: string; needs: string }[];
  vars: {
    firewall_rules: { port: number | string; proto: string; from: string; purpose: string }[];
    /** On db hosts only (the port creates them on the primary). */
    db_accounts?: { user: string; host: string; priv: string }[];
  };
}

interface Side {
  files: Map<string, { content: string; mode?: string; owner?: string; group?: string }>;
  links: Map<string, string>;
  directories: Map<string, { mode?: string; owner?: string; group?: string }>;
  absent: string[];
}

function infraSide(desire: HostDesire): Side {
  const side: Side = { files: new Map(), links: new Map(), directories: new Map(), absent: [] };
  for (const resource of desire.phases.flatMap((phase) => phase.resources)) {
    if (resource.kind === 'file')
      side.files.set(resource.path, { content: resource.content, mode: resource.mode, owner: resource.owner, group: resource.group });
    else if (resource.kind === 'symlink') side.links.set(resource.path, resource.target);
    else if (resource.kind === 'directory') side.directories.set(resource.path, { mode: resource.mode, owner: resource.owner, group: resource.group });
    else if (resource.kind === 'absent') side.absent.push(resource.path);
  }
  return side;
}

function ansibleSide(host: AnsibleHost, outDir: string, name: string): Side {
  const files = new Map<string, Side['files'] extends Map<string, infer V> ? V : never>();
  for (const [path, meta] of Object.entries(host.files)) files.set(path, { content: readFileSync(join(outDir, name, path), 'utf8'), ...meta });
  return { files, links: new Map(Object.entries(host.links)), directories: new Map(Object.entries(host.directories)), absent: host.absent };
}

/** Every way the two sides differ on one host, as readable lines (a unified diff for contents). */
function differences(name: string, infra: Side, ansible: Side): string[] {
  const found: string[] = [];
  for (const path of [...new Set([...infra.files.keys(), ...ansible.files.keys()])].sort()) {
    const [ours, theirs] = [infra.files.get(path), ansible.files.get(path)];
    if (!ours || !theirs) {
      found.push(`${name}: ${path} is written by ${ours ? 'infra' : 'Ansible'} only`);
      continue;
    }
    if (ours.content !== theirs.content) {
      found.push(createTwoFilesPatch(`infra ${name}:${path}`, `ansible ${name}:${path}`, ours.content, theirs.content, '', '', { context: 2 }));
    }
    for (const key of ['mode', 'owner', 'group'] as const) {
      if (ours[key] !== theirs[key]) found.push(`${name}: ${path}: ${key} ${ours[key]} (infra) vs ${theirs[key]} (Ansible)`);
    }
  }
  for (const path of [...new Set([...infra.links.keys(), ...ansible.links.keys()])].sort()) {
    if (infra.links.get(path) !== ansible.links.get(path)) {
      found.push(`${name}: link ${path} → ${infra.links.get(path) ?? '(none)'} (infra) vs ${ansible.links.get(path) ?? '(none)'} (Ansible)`);
    }
  }
  for (const [path, ours] of infra.directories) {
    const theirs = ansible.directories.get(path);
    if (!theirs) found.push(`${name}: directory ${path} is made by infra only`);
    else if (JSON.stringify(ours) !== JSON.stringify({ mode: theirs.mode, owner: theirs.owner, group: theirs.group })) {
      found.push(`${name}: directory ${path}: ${JSON.stringify(ours)} (infra) vs ${JSON.stringify(theirs)} (Ansible)`);
    }
  }
  // Ansible makes the parents of the files it copies itself; infra's engine makes them on writing.
  const parents = new Set(
    [...infra.files.keys()].flatMap((path) => {
      const dirs: string[] = [];
      for (let dir = posix.dirname(path); dir !== '/'; dir = posix.dirname(dir)) dirs.push(dir);
      return dirs;
    }),
  );
  for (const path of ansible.directories.keys()) {
    if (!infra.directories.has(path) && !parents.has(path)) found.push(`${name}: directory ${path} is made by Ansible only`);
  }
  if (JSON.stringify([...infra.absent].sort()) !== JSON.stringify([...ansible.absent].sort())) {
    found.push(`${name}: removed paths ${JSON.stringify(infra.absent)} (infra) vs ${JSON.stringify(ansible.absent)} (Ansible)`);
  }
  return found;
}

interface Rendered {
  infra: Map<string, Side>;
  ansible: Map<string, Side>;
  hostDependent: Map<string, AnsibleHost['host_dependent']>;
  roles: Map<string, string[]>;
  /** ufw rules, in order, as `proto port from source (purpose)`. */
  infraRules: Map<string, string[]>;
  ansibleRules: Map<string, string[]>;
  /** The db accounts created on the primary, as `user@host`. */
  infraAccounts: Map<string, string[]>;
  ansibleAccounts: Map<string, string[]>;
}

/** Renders both sides for the inventory text (written into a fresh folder, state dir included). */
/** bench/ansible/render.py's manifest for the inventory file (contents written under `out`). */
function renderAnsible(file: string, out: string, extraArgs: string[] = []): Record<string, AnsibleHost> {
  const python = spawnSync(PYTHON, [RENDER_PY, '--inventory', file, '--out', out, ...extraArgs], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (python.error || python.status !== 0) {
    throw new Error(
      `${PYTHON} bench/ansible/render.py failed (it needs python3 with Jinja2 and PyYAML: run scripts/system-deps.sh as root):\n` +
        `${python.error?.message ?? ''}${python.stdout}${python.stderr}`,
    );
  }
  return JSON.parse(python.stdout) as Record<string, AnsibleHost>;
}

async function renderBoth(inventoryText: string, dir: string): Promise<Rendered> {
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, inventoryText);
  const selection = await selectRun(file, undefined);
  const desires = await renderDesires(selection);
  const out = join(dir, 'ansible-out');
  const manifest = renderAnsible(file, out, ['--role-var', 'common:firewall_rules', '--role-var', 'db:db_accounts']);
  const rendered: Rendered = {
    infra: new Map(),
    ansible: new Map(),
    hostDependent: new Map(),
    roles: new Map(),
    infraRules: new Map(),
    ansibleRules: new Map(),
    infraAccounts: new Map(),
    ansibleAccounts: new Map(),
  };
  for (const desire of desires) {
    rendered.infra.set(desire.host, infraSide(desire));
    const rules = desire.phases.flatMap((phase) => phase.resources).filter((resource) => resource.kind === 'firewall-rule');
    rendered.infraRules.set(
      desire.host,
      rules.map((rule) => `${rule.proto} ${rule.port} from ${rule.from} (${rule.purpose})`),
    );
    const accounts = desire.phases
      .flatMap((phase) => phase.resources)
      .filter((resource) => resource.kind === 'command' && resource.name.startsWith('db account '));
    if (accounts.length > 0)
      rendered.infraAccounts.set(
        desire.host,
        accounts.map((resource) => (resource.kind === 'command' ? resource.name.slice('db account '.length) : '')).sort(),
      );
  }
  for (const [name, host] of Object.entries(manifest)) {
    rendered.ansible.set(name, ansibleSide(host, out, name));
    rendered.ansibleRules.set(
      name,
      host.vars.firewall_rules.map((rule) => `${rule.proto} ${rule.port} from ${rule.from} (${rule.purpose})`),
    );
    rendered.hostDependent.set(name, host.host_dependent);
    if (host.vars.db_accounts && name === selection.inventory.db.primary) {
      rendered.ansibleAccounts.set(name, host.vars.db_accounts.map((account) => `${account.user}@${account.host}`).sort());
    }
  }
  for (const host of selection.inventory.hosts) rendered.roles.set(host.name, host.roles);
  return rendered;
}

function expectSame(rendered: Rendered): void {
  expect([...rendered.ansible.keys()].sort()).toEqual([...rendered.infra.keys()].sort());
  const found = [...rendered.infra].flatMap(([name, infra]) => differences(name, infra, rendered.ansible.get(name) as Side));
  expect(found.join('\n'), 'bench/ansible differs from infra: port the change to bench/ansible').toBe('');
  // Not files, but what a no-change run compares too: the same ufw rules, in the same order.
  expect(Object.fromEntries(rendered.ansibleRules), 'the ufw rules of bench/ansible (roles/common/vars/main.yml)').toEqual(
    Object.fromEntries(rendered.infraRules),
  );
  // Nor are the db accounts, which a no-change run compares on the primary.
  expect(Object.fromEntries(rendered.ansibleAccounts), 'the db accounts of bench/ansible (roles/db/vars/main.yml)').toEqual(
    Object.fromEntries(rendered.infraAccounts),
  );
  for (const [name, tasks] of rendered.hostDependent) {
    const expected = (rendered.roles.get(name) ?? []).flatMap((role) => HOST_DEPENDENT_TASKS[role] ?? []);
    const names = (list: { task: string; needs: string }[]) => list.map((task) => `${task.task} (needs ${task.needs})`).sort();
    expect(names(tasks), `${name}: tasks that depend on the host's state`).toEqual(names(expected));
  }
}

/** The lab's own inventory, as `infra lab up` writes it, with the example app found from here. */
function labInventory(): string {
  const subnet = parseSubnet('10.77.0.0/24');
  const text = renderLabInventory({ subnet, hosts: planHosts(DEFAULT_COUNTS, subnet), login: 'root', bridge: 'infra-br0' });
  return text.replace('source: ../examples/app', `source: ${EXAMPLE_APP}`);
}

/** Wider than the lab: three lb hosts, a web+app host, layered vars, set secrets, other names and ports. */
function widerInventory(dir: string): string {
  writeFileSync(join(dir, 'app-password'), 'app "pass" with $ and `\\\n');
  return `domain: shop.example.org
vip: 192.168.50.30
vip_prefix: 27
state_dir: ./state
ssh:
  user: root
  port: 2222
  identity_file: ./id
  known_hosts: ./known_hosts
firewall:
  admin_sources: [192.168.50.1/32, 10.9.0.0/16]
  extra_rules:
    - { port: 9999, proto: udp, from: 10.9.0.5/32, hosts: [lb] }
extra_files: [/etc/nginx/conf.d/status.conf, /etc/haproxy/extra.lst]
monitoring:
  sources: [192.168.50.9/32]
db:
  primary: db2
  replicas: [db1, db3]
  name: shop
  user: shopper
  password: file:./app-password
  extra_accounts: [backup@192.168.50.9]
app:
  source: ${EXAMPLE_APP}
  port: 8080
  keep_releases: 3
vars:
  vrrp_interface: ens3
role_vars:
  lb:
    vrrp_router_id: 77
groups:
  edge:
    hosts: [lb3]
    vars:
      vrrp_interface: ens4
hosts:
  lb1: { address: 192.168.50.11, roles: [lb] }
  lb2: { address: 192.168.50.12, roles: [lb] }
  lb3: { address: 192.168.50.13, roles: [lb], ssh: { port: 22 } }
  front1: { address: 192.168.50.21, roles: [web, app] }
  web2: { address: 192.168.50.22, roles: [web] }
  app2: { address: 192.168.50.32, roles: [app] }
  db1: { address: 192.168.50.41, roles: [db] }
  db2: { address: 192.168.50.42, roles: [db] }
  db3: { address: 192.168.50.43, roles: [db] }
`;
}

describe('bench/ansible renders what infra renders (no lab)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ansible-parity-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('on the lab inventory: every file, link, directory, removal and ufw rule of every host', async () => {
    const labDir = join(dir, 'lab');
    mkdirSync(labDir);
    const rendered = await renderBoth(labInventory(), labDir);
    expect(rendered.infra.size).toBe(8);
    // Not vacuous: the files the port once lacked are there on both sides.
    expect(rendered.infra.get('lb1')?.files.has('/etc/keepalived/keepalived.conf')).toBe(true);
    expect(rendered.infra.get('web1')?.files.has('/etc/nginx/sites-available/www.foobar.com')).toBe(true);
    expect(rendered.infra.get('db1')?.files.has('/etc/mysql/mariadb.conf.d/61-infra-read-only.cnf')).toBe(true);
    // The example app's files are compared too (the port copies the release infra uploads).
    expect([...(rendered.infra.get('app1')?.files.keys() ?? [])].some((path) => path.endsWith('/app.py'))).toBe(true);
    expect(rendered.infraAccounts.size).toBe(1);
    expectSame(rendered);
  }, 60_000);

  it('on a wider inventory: three lb hosts, a web+app host, layered vars, secrets from a file', async () => {
    const wideDir = join(dir, 'wide');
    mkdirSync(wideDir);
    const rendered = await renderBoth(widerInventory(wideDir), wideDir);
    expect(rendered.infra.size).toBe(9);
    expectSame(rendered);
  }, 60_000);
});

/*
 * The app's release history and pruning read the host, so they are compared on folders standing
 * for /opt/app: infra's commands run in a local bash (as test/unit/app-releases.test.ts runs
 * them), and the port's tasks are rendered with what its find and slurp would register there.
 */
describe("bench/ansible keeps the app's release history and prunes as infra does", () => {
  const id = (n: number) => n.toString(16).padStart(12, '0');
  let dir: string;
  let inventoryFile: string;
  let release: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ansible-parity-releases-'));
    inventoryFile = join(dir, 'inventory.yaml');
    writeFileSync(inventoryFile, labInventory());
    const selection = await selectRun(inventoryFile, undefined);
    // Every host, so that the state dir holds every secret and certificate render.py reads.
    const app1 = (await renderDesires(selection)).find((desire) => desire.host === 'app1');
    const link = app1?.phases.flatMap((phase) => phase.resources).find((resource) => resource.kind === 'symlink' && resource.path === `${APP_ROOT}/current`);
    release = link?.kind === 'symlink' ? posix.basename(link.target) : '';
    expect(release).toMatch(/^[0-9a-f]{12}$/);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A folder standing for /opt/app: releases with mtimes in their order, a history, `current`. */
  function appRoot(releases: number[], history: number[] | undefined): string {
    const root = mkdtempSync(join(dir, 'opt-app-'));
    mkdirSync(join(root, 'releases'));
    for (const n of releases) {
      mkdirSync(join(root, 'releases', id(n)));
      utimesSync(join(root, 'releases', id(n)), 1_000_000 + n * 60, 1_000_000 + n * 60);
    }
    if (history) writeFileSync(join(root, 'releases', '.history'), history.map((n) => id(n) + '\n').join(''));
    // The deploy made the new release and switched `current` to it before the history and prune.
    mkdirSync(join(root, 'releases', release), { recursive: true });
    symlinkSync(join(root, 'releases', release), join(root, 'current'));
    return root;
  }

  /** What Ansible's find (file_type any, hidden) and slurp register for /opt/app/releases there. */
  function registered(root: string): Record<string, unknown> {
    const releases = join(root, 'releases');
    const files = readdirSync(releases).map((name) => {
      const stat = statSync(join(releases, name));
      return { path: `${APP_RELEASES}/${name}`, isdir: stat.isDirectory(), islnk: false, isreg: stat.isFile(), mtime: stat.mtimeMs / 1000 };
    });
    const history = join(releases, '.history');
    const read = existsSync(history)
      ? { content: readFileSync(history).toString('base64'), encoding: 'base64', source: `${APP_RELEASES}/.history` }
      : { skipped: true, changed: false };
    return { app_releases_found: { files, matched: files.length, examined: files.length }, app_history_read: read };
  }

  function infraRuns(root: string, keep: number): void {
    const bash = (text: string) =>
      spawnSync('bash', ['-c', text.replaceAll(APP_ROOT, root)], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } }).status;
    const commands = [releaseHistoryCommand(release), pruneReleasesCommand(release, keep)];
    // Planned on the probe, before anything changes; then each planned one runs unless its guard holds.
    const planned = commands.map((command) => bash(String(command.unless)) !== 0);
    commands.forEach((command, index) => {
      if (planned[index] && bash(String(command.unless)) !== 0) expect(bash(command.script), command.name).toBe(0);
    });
  }

  const releaseNames = (root: string) =>
    readdirSync(join(root, 'releases'))
      .filter((name) => !name.startsWith('.'))
      .sort();

  const scenarios: { name: string; releases: number[]; history?: number[]; keep: number }[] = [
    { name: 'a history: the release is appended', releases: [1, 2], history: [1, 2], keep: 5 },
    { name: 'no history yet: started from the releases by age, then the release', releases: [3, 1, 2], keep: 5 },
    { name: 'a long history: its last 100 entries', releases: [1, 2], history: Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? 1 : 2)), keep: 5 },
    { name: 'more releases than kept: the oldest removed', releases: [1, 2, 3, 4], history: [1, 2, 3, 4], keep: 3 },
    { name: 'rollbacks: a release counts once', releases: [1, 2, 3, 4], history: [1, 2, 3, 4, 3, 4, 3], keep: 2 },
    { name: 'no history and more releases than kept', releases: [1, 2, 3], keep: 3 },
    { name: 'converged: nothing written, nothing removed', releases: [1, 2], history: [1, 2, -1], keep: 3 },
  ];

  for (const scenario of scenarios) {
    it(scenario.name, () => {
      // -1 stands for the release being deployed (already last in the history: a converged host).
      const history = scenario.history?.map((n) => (n === -1 ? parseInt(release, 16) : n));
      const infraRoot = appRoot(scenario.releases, history);
      const ansibleRoot = appRoot(scenario.releases, history);
      const state = join(dir, `state-${scenarios.indexOf(scenario)}.json`);
      writeFileSync(state, JSON.stringify({ app1: registered(ansibleRoot) }));
      const historyBefore = readFileSync(join(ansibleRoot, 'releases', '.history'), { encoding: 'utf8', flag: 'a+' });

      infraRuns(infraRoot, scenario.keep);
      const inventory = readFileSync(inventoryFile, 'utf8').replace('port: 8000', `port: 8000\n  keep_releases: ${scenario.keep}`);
      const file = join(dir, `inventory-${scenarios.indexOf(scenario)}.yaml`);
      writeFileSync(file, inventory);
      const out = join(dir, `out-${scenarios.indexOf(scenario)}`);
      const app1 = renderAnsible(file, out, ['--host-state', state]).app1 as AnsibleHost;
      expect(app1.host_dependent).toEqual([]);

      const historyFile = `${APP_RELEASES}/.history`;
      const written = historyFile in app1.files ? readFileSync(join(out, 'app1', historyFile), 'utf8') : undefined;
      expect(written ?? historyBefore, 'the history after the run').toBe(readFileSync(join(infraRoot, 'releases', '.history'), 'utf8'));
      if (written !== undefined) expect(app1.files[historyFile]).toEqual({ mode: '0644', owner: 'root', group: 'root' });
      const removed = app1.absent.filter((path) => path.startsWith(`${APP_RELEASES}/`)).map((path) => posix.basename(path));
      expect(
        releaseNames(ansibleRoot).filter((name) => !removed.includes(name)),
        'the releases left',
      ).toEqual(releaseNames(infraRoot));
      if (scenario.name.startsWith('converged')) expect(written === undefined && removed.length === 0).toBe(true);
    });
  }
});
