import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import type { Facts, HostDesire } from '../../src/core/types.js';
import { sha256Hex } from '../../src/resources/file.js';
import { countChanges, planHost } from '../../src/plan/plan-host.js';
import { planToJson } from '../../src/plan/render.js';
import { emptyFacts } from '../../src/facts/parse.js';

const CONFIG = 'ARGS="--web.listen-address=10.77.0.21:9100"\n';

/** A Debian 12 host that holds nothing infra manages, read from 10.77.0.1. */
function bareFacts(overrides: Partial<Facts> = {}): Facts {
  return { ...emptyFacts('10.77.0.1'), os: { id: 'debian', versionId: '12', codename: 'bookworm' }, ...overrides };
}

function desire(adminSource = '10.77.0.1/32', content = CONFIG, secrets: Secret[] = []): HostDesire {
  return {
    host: 'web1',
    address: '10.77.0.21',
    phases: [
      {
        phase: 'firewall',
        resources: [
          { kind: 'package', name: 'ufw' },
          { kind: 'firewall-rule', proto: 'tcp', port: 22, from: adminSource, purpose: 'ssh (admin)' },
          { kind: 'firewall-rule', proto: 'tcp', port: 9100, from: '10.77.0.1/32', purpose: 'node exporter (monitoring)' },
          { kind: 'firewall-state', sshPort: 22 },
        ],
        handlers: [],
        validators: [],
      },
      {
        phase: 'monitoring',
        resources: [
          { kind: 'package', name: 'prometheus-node-exporter' },
          { kind: 'file', path: '/etc/default/prometheus-node-exporter', content, mode: '0644', owner: 'root', group: 'root', secrets, notify: ['restart:x'] },
          { kind: 'service', name: 'prometheus-node-exporter', enabled: true, running: true },
          { kind: 'command', name: 'init-db', script: 'true', unless: 'test -e /x' },
        ],
        handlers: [{ id: 'restart:x', service: 'prometheus-node-exporter', action: 'restart' }],
        validators: [],
      },
      { phase: 'cleanup', resources: [], handlers: [], validators: [] },
    ],
  };
}

function convergedFacts(): Facts {
  return bareFacts({
    files: { '/etc/default/prometheus-node-exporter': { exists: true, type: 'file', sha256: sha256Hex(CONFIG), mode: '644', owner: 'root', group: 'root' } },
    packages: { ufw: '0.36.2-1', 'prometheus-node-exporter': '1.5.0' },
    services: { 'prometheus-node-exporter': { load: 'loaded', active: 'active', enabled: 'enabled' } },
    firewall: {
      installed: true,
      enabled: true,
      defaultIncoming: 'DROP',
      rules: [
        { action: 'allow', proto: 'tcp', port: '22', from: '10.77.0.1', comment: 'infra:ssh (admin)', to: 'any', fromPort: 'any', iface: '' },
        { action: 'allow', proto: 'tcp', port: '9100', from: '10.77.0.1', comment: 'infra:node exporter (monitoring)', to: 'any', fromPort: 'any', iface: '' },
      ],
    },
    guards: { 'init-db': 0 },
  });
}

describe('planHost', () => {
  it('plans every resource as a creation on a bare host', () => {
    const plan = planHost(desire(), bareFacts());
    expect(countChanges(plan)).toEqual({ create: 7, update: 1, delete: 0, noop: 0 });
    expect(plan.changes.find((c) => c.resource.kind === 'firewall-state')?.reason).toMatch(/ufw not active/);
    expect(plan.refusal).toBeUndefined();
  });

  it('plans nothing on a host that already matches, and says why for each resource', () => {
    const plan = planHost(desire(), convergedFacts());
    expect(countChanges(plan)).toEqual({ create: 0, update: 0, delete: 0, noop: 8 });
    expect(plan.changes.map((c) => c.reason)).toContain('content, mode and owner match');
    expect(plan.changes.map((c) => c.reason)).toContain('already done (its guard holds)');
  });

  it('updates a file edited by hand and shows a unified diff', () => {
    const facts = convergedFacts();
    facts.files['/etc/default/prometheus-node-exporter'] = { exists: true, type: 'file', sha256: 'other', mode: '644', owner: 'root', group: 'root', content: 'ARGS="--edited"\n' };
    const change = planHost(desire(), facts).changes.find((c) => c.resource.kind === 'file');
    expect(change?.action).toBe('update');
    expect(change?.reason).toBe('content differs');
    expect(change?.diff).toContain('-ARGS="--edited"');
    expect(change?.diff).toContain('+ARGS="--web.listen-address=10.77.0.21:9100"');
  });

  it('shows no diff of a file that holds secrets, neither the old content nor the new', () => {
    const secret = new Secret('hunter2-very-secret');
    const facts = convergedFacts();
    // The old file on the host holds the old password, which infra no longer knows.
    facts.files['/etc/default/prometheus-node-exporter'] = { exists: true, type: 'file', sha256: 'x', mode: '644', owner: 'root', group: 'root', content: 'PASSWORD=old-password\nA=1\n' };
    const change = planHost(desire(undefined, 'PASSWORD=hunter2-very-secret\nA=2\n', [secret]), facts).changes.find((c) => c.resource.kind === 'file');
    expect(change?.action).toBe('update');
    expect(change?.reason).toBe('content differs (holds secrets: no diff shown)');
    expect(change?.diff).toBeUndefined();
  });

  it('creates a file that holds secrets without showing its content', () => {
    const secret = new Secret('-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\nByqGSM49AgEG\n-----END PRIVATE KEY-----\n');
    const facts = convergedFacts();
    delete facts.files['/etc/default/prometheus-node-exporter'];
    const change = planHost(desire(undefined, secret.reveal(), [secret]), facts).changes.find((c) => c.resource.kind === 'file');
    expect(change).toMatchObject({ action: 'create', reason: 'missing (holds secrets: no diff shown)' });
    expect(change?.diff).toBeUndefined();
  });

  it('reports a mode or owner drift even when the content matches', () => {
    const facts = convergedFacts();
    facts.files['/etc/default/prometheus-node-exporter'] = { exists: true, type: 'file', sha256: sha256Hex(CONFIG), mode: '666', owner: 'nobody', group: 'root' };
    const change = planHost(desire(), facts).changes.find((c) => c.resource.kind === 'file');
    expect(change?.reason).toBe('mode 666 → 0644, owner nobody:root → root:root');
  });

  it('deletes every rule it does not want in the cleanup phase: its own with their purpose, a hand-written one with its own words', () => {
    const facts = convergedFacts();
    const handWritten = { action: 'allow', proto: 'tcp', port: '6666', from: 'any', comment: '', to: 'any', fromPort: 'any', iface: '' };
    facts.firewall.rules.push(
      { action: 'allow', proto: 'tcp', port: '8080', from: 'any', comment: 'infra:old app', to: 'any', fromPort: 'any', iface: '' },
      handWritten,
    );
    const plan = planHost(desire(), facts);
    const deletes = plan.changes.filter((c) => c.action === 'delete');
    expect(deletes.map((c) => [c.phase, c.reason])).toEqual([
      ['cleanup', 'written by infra, no longer wanted'],
      ['cleanup', 'not written by infra (keep it with firewall.extra_rules)'],
    ]);
    expect(deletes[0]?.resource).toEqual({ kind: 'firewall-rule', proto: 'tcp', port: 8080, from: 'any', purpose: 'old app' });
    expect(deletes[1]?.resource).toMatchObject({ kind: 'firewall-rule', port: 6666, found: handWritten });
    expect(plan.notices).toEqual([]);
  });

  it('keeps a hand-written rule the desired set holds (firewall.extra_rules makes it desired)', () => {
    const facts = convergedFacts();
    facts.firewall.rules.push({ action: 'allow', proto: 'tcp', port: '6666', from: 'any', comment: '', to: 'any', fromPort: 'any', iface: '' });
    const wanted = desire();
    wanted.phases[0]?.resources.push({ kind: 'firewall-rule', proto: 'tcp', port: 6666, from: 'any', purpose: 'kept (firewall.extra_rules)' });
    const plan = planHost(wanted, facts);
    expect(plan.changes.filter((c) => c.action !== 'noop')).toEqual([]);
  });

  it('does not take a rule limited to one destination address for the same opening to any', () => {
    const facts = convergedFacts();
    facts.firewall.rules.push({ action: 'allow', proto: 'tcp', port: '6666', from: 'any', comment: '', to: '10.77.0.21', fromPort: 'any', iface: '' });
    const wanted = desire();
    wanted.phases[0]?.resources.push({ kind: 'firewall-rule', proto: 'tcp', port: 6666, from: 'any', purpose: 'kept (firewall.extra_rules)' });
    const changes = planHost(wanted, facts).changes.filter((c) => c.action !== 'noop');
    expect(changes.map((c) => [c.action, c.phase])).toEqual([['create', 'firewall'], ['delete', 'cleanup']]);
  });

  it('refuses a plan whose SSH rules would not let this controller in', () => {
    const plan = planHost(desire('192.0.2.0/24'), convergedFacts());
    expect(plan.refusal).toMatch(/would cut its own access/);
    expect(plan.refusal).toMatch(/10\.77\.0\.1/);
    expect(plan.refusal).toMatch(/firewall\.admin_sources/);
    // The old admin rule would have been removed by this plan: that is what is refused.
    expect(plan.changes.some((c) => c.action === 'delete' && c.resource.kind === 'firewall-rule' && c.resource.port === 22)).toBe(true);
  });

  it('accepts an admin source given as the network that holds the controller', () => {
    expect(planHost(desire('10.77.0.0/24'), convergedFacts()).refusal).toBeUndefined();
  });

  it('lists the phases in which the host was serving: a running service of the phase', () => {
    expect(planHost(desire(), bareFacts()).serving).toEqual([]);
    expect(planHost(desire(), convergedFacts()).serving).toEqual(['monitoring']);
    const stopped = convergedFacts();
    stopped.services['prometheus-node-exporter'] = { load: 'loaded', active: 'failed', enabled: 'enabled' };
    expect(planHost(desire(), stopped).serving).toEqual([]);
  });

  it('carries handlers an earlier run left pending', () => {
    const plan = planHost(desire(), convergedFacts());
    expect(plan.pendingHandlers).toEqual([]);
    const facts = convergedFacts();
    facts.pendingHandlers = ['restart:x'];
    expect(planHost(desire(), facts).pendingHandlers).toEqual(['restart:x']);
  });

  it('gives a plan as data without any file content, so no secret reaches --json', () => {
    const secret = new Secret('-----BEGIN PRIVATE KEY----- hunter2');
    const plan = planHost(desire(undefined, `KEY=${secret.reveal()}\n`, [secret]), bareFacts());
    const json = JSON.stringify(planToJson(plan));
    expect(json).not.toContain('hunter2');
    expect(json).toContain('"resource":"file /etc/default/prometheus-node-exporter"');
    expect(json).toContain('missing (holds secrets: no diff shown)');
    expect(json).not.toContain('KEY=');
  });
});
