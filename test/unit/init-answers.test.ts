import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/core/package-root.js';
import {
  addressProblem,
  completeWithDefaults,
  hostNameProblem,
  INIT_DEFAULTS,
  type InitAnswers,
  type InitHost,
  type KnownAnswers,
  sourcesProblem,
  vipProblem,
} from '../../src/inventory/init-answers.js';
import { parseInventory } from '../../src/inventory/load.js';
import { exampleComments } from '../../src/inventory/docs.js';
import { renderInventory } from '../../src/inventory/init-render.js';

const EXAMPLE = readFileSync(join(PACKAGE_ROOT, 'inventory.example.yaml'), 'utf8');

const LB_PAIR: InitHost[] = [
  { name: 'lb1', address: '10.0.0.11', roles: ['lb'] },
  { name: 'lb2', address: '10.0.0.12', roles: ['lb'] },
];
const WEB_APP: InitHost = { name: 'web1', address: '10.0.0.21', roles: ['web', 'app'] };
const DB1: InitHost = { name: 'db1', address: '10.0.0.41', roles: ['db'] };
const DB2: InitHost = { name: 'db2', address: '10.0.0.42', roles: ['db'] };

/** The answers given, and what the defaults must make of the rest. */
const DEFAULT_CASES: { name: string; known: KnownAnswers; expected: Partial<InitAnswers>; absent?: (keyof InitAnswers)[] }[] = [
  {
    name: 'a single db host is the primary, with no replica; root needs no sudo; monitoring is the admin sources',
    known: { domain: 'www.example.com', hosts: [WEB_APP, DB1], adminSources: ['10.0.0.1/32'] },
    expected: {
      primary: 'db1',
      replicas: [],
      monitoringSources: ['10.0.0.1/32'],
      vipPrefix: 24,
      ssh: { user: 'root', identityFile: '~/.ssh/id_ed25519', knownHosts: '~/.ssh/known_hosts', sudo: { kind: 'none' } },
      tls: { source: 'ca' },
      appSource: INIT_DEFAULTS.appSource,
    },
  },
  {
    name: 'every db host but the primary is a replica',
    known: { hosts: [WEB_APP, DB1, DB2], primary: 'db2', adminSources: ['10.0.0.1/32'] },
    expected: { primary: 'db2', replicas: ['db1'] },
  },
  {
    name: 'a user other than root gets passwordless sudo',
    known: { hosts: [WEB_APP, DB1], sshUser: 'deploy', adminSources: ['10.0.0.1/32'] },
    expected: { ssh: { user: 'deploy', identityFile: '~/.ssh/id_ed25519', knownHosts: '~/.ssh/known_hosts', sudo: { kind: 'passwordless' } } },
  },
  {
    name: 'a VIP is held on eth0 unless told otherwise',
    known: { hosts: [...LB_PAIR, WEB_APP, DB1], vip: '10.0.0.100', adminSources: ['10.0.0.1/32'] },
    expected: { vip: '10.0.0.100', vipInterface: 'eth0' },
  },
  {
    name: 'no VIP, no interface',
    known: { hosts: [WEB_APP, DB1], vipInterface: 'ens18', adminSources: ['10.0.0.1/32'] },
    expected: { vipPrefix: 24 },
    absent: ['vip', 'vipInterface'],
  },
];

describe('init answers completed with defaults', () => {
  it.each(DEFAULT_CASES)('$name', ({ known, expected, absent = [] }) => {
    const answers = completeWithDefaults(known);
    expect(answers).toMatchObject(expected);
    expect(absent.filter((key) => key in answers)).toEqual([]);
  });
});

/** Each check, an answer, and what it says (undefined: accepted). */
const PROBLEM_CASES: { name: string; problem: () => string | undefined; expected: string | undefined }[] = [
  { name: 'a host name', problem: () => hostNameProblem('web-1_a', []), expected: undefined },
  {
    name: 'a host name starting with a digit',
    problem: () => hostNameProblem('1web', []),
    expected: 'a host name starts with a letter and holds only letters, digits, _ and -',
  },
  { name: 'a host name given twice', problem: () => hostNameProblem('db1', [DB1]), expected: 'there is already a host named db1' },
  { name: 'an address given twice', problem: () => addressProblem('10.0.0.41', [DB1]), expected: '10.0.0.41 is already the address of db1' },
  { name: 'no source', problem: () => sourcesProblem([]), expected: 'give at least one address or CIDR, e.g. 10.0.0.1/32' },
  {
    name: 'a source that is no CIDR',
    problem: () => sourcesProblem(['10.0.0.0/24', '10.0.0/8']),
    expected: 'invalid address or CIDR "10.0.0/8" (expected e.g. 10.0.0.0/24 or 10.0.0.1)',
  },
  { name: "a VIP in the lb hosts' subnet", problem: () => vipProblem('10.0.0.100', LB_PAIR, 24), expected: undefined },
  {
    name: "a VIP that is a host's address",
    problem: () => vipProblem('10.0.0.12', LB_PAIR, 24),
    expected: '10.0.0.12 is the address of lb2; the VIP must be an unused address',
  },
  {
    name: "a VIP outside the lb hosts' subnet",
    problem: () => vipProblem('10.0.1.100', LB_PAIR, 24),
    expected: '10.0.1.100 is not in the /24 subnet of lb host lb1 (10.0.0.11)',
  },
];

describe('init answer checks', () => {
  it.each(PROBLEM_CASES)('$name', ({ problem, expected }) => {
    expect(problem()).toBe(expected);
  });
});

/** Answers that cover each shape of the text: sudo kinds, TLS sources, with and without a VIP. */
const RENDER_CASES: { name: string; known: KnownAnswers }[] = [
  { name: "root, infra's CA, no VIP", known: { domain: 'www.example.com', hosts: [WEB_APP, DB1], adminSources: ['10.0.0.1/32'] } },
  {
    name: 'passwordless sudo, a VIP on ens18',
    known: {
      domain: 'www.example.com',
      hosts: [...LB_PAIR, WEB_APP, DB1, DB2],
      vip: '10.0.0.100',
      vipInterface: 'ens18',
      sshUser: 'deploy',
      adminSources: ['10.0.0.1/32'],
    },
  },
  {
    name: 'sudo with a password, certificate files with a chain',
    known: {
      domain: 'shop.example.com',
      hosts: [WEB_APP, DB1],
      sshUser: 'deploy',
      sudo: { kind: 'password', env: 'SUDO_PW' },
      tls: { source: 'files', certFile: './tls/fullchain.pem', keyFile: './tls/privkey.pem', chainFile: './tls/chain.pem' },
      adminSources: ['10.0.0.1/32'],
      monitoringSources: ['10.0.9.0/24'],
    },
  },
];

/** The keys of a text by path (indentation), each with the comment lines right above it. */
function keysWithComments(text: string): { path: string; comments: string[] }[] {
  const keys: { path: string; comments: string[] }[] = [];
  const stack: { indent: number; key: string }[] = [];
  let comments: string[] = [];
  for (const line of text.split('\n')) {
    const key = /^(\s*)([\w-]+):/.exec(line);
    if (/^\s*#/.test(line)) comments.push(line.trim());
    else if (key) {
      const indent = key[1]?.length ?? 0;
      while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= indent) stack.pop();
      stack.push({ indent, key: key[2] ?? '' });
      keys.push({ path: stack.map((entry) => entry.key).join('.'), comments });
      comments = [];
    } else comments = [];
  }
  return keys;
}

describe('the inventory text init writes', () => {
  it.each(RENDER_CASES)('$name: is an inventory that holds the answers', ({ known }) => {
    const answers = completeWithDefaults(known);
    const result = parseInventory(renderInventory(answers, 'inventory.yaml', EXAMPLE), '/srv/site/inventory.yaml');
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const { inventory } = result;
    expect(inventory.domain).toBe(answers.domain);
    expect(inventory.vip).toBe(answers.vip);
    expect(inventory.hosts.map((host) => ({ name: host.name, address: host.address, roles: host.roles }))).toEqual(answers.hosts);
    expect(inventory.db).toMatchObject({ primary: answers.primary, replicas: answers.replicas });
    expect(inventory.firewall.adminSources).toEqual(answers.adminSources);
    expect(inventory.monitoring.sources).toEqual(answers.monitoringSources);
    expect(inventory.hosts[0]?.ssh.user).toBe(answers.ssh.user);
    if (answers.vipInterface) expect(inventory.hosts.find((host) => host.roles.includes('lb'))?.vars).toMatchObject({ vrrp_interface: answers.vipInterface });
  });

  it.each(RENDER_CASES)('$name: comments every key with the comment inventory.example.yaml gives it', ({ known }) => {
    const text = renderInventory(completeWithDefaults(known), 'inventory.yaml', EXAMPLE);
    const example = exampleComments(EXAMPLE);
    // A host's keys are the operator's own names; role_vars is checked below.
    const keys = keysWithComments(text).filter(({ path }) => !path.startsWith('hosts.') && !path.startsWith('role_vars'));
    expect(keys.length).toBeGreaterThan(10);
    for (const { path, comments } of keys) {
      expect({ path, comments }).toEqual({ path, comments: (example.get(path)?.description ?? []).flat().map((line) => `# ${line}`) });
    }
  });

  it('takes a comment changed in the example, so the two cannot drift apart', () => {
    const changed = EXAMPLE.replace('# Who may reach SSH. Must not be empty', '# Who may reach port 22. Must not be empty');
    const text = renderInventory(completeWithDefaults(RENDER_CASES[0]!.known), 'inventory.yaml', changed);
    expect(text).toContain(
      '  # Who may reach port 22. Must not be empty; infra refuses a plan that would cut its own access.\n  admin_sources: [10.0.0.1/32]\n',
    );
  });

  it('says on which interface keepalived holds the VIP, from the vars the example describes', () => {
    const text = renderInventory(completeWithDefaults(RENDER_CASES[1]!.known), 'inventory.yaml', EXAMPLE);
    expect(text).toContain(
      '# per role: lb, web, app, db, monitor\n# vrrp_interface: lb hosts: the interface keepalived holds the VIP on (default eth0)\nrole_vars:\n  lb:\n    vrrp_interface: ens18\n',
    );
  });
});
