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

function desire(content = CONFIG, secrets: Secret[] = []): HostDesire {
  return {
    host: 'web1',
    address: '10.77.0.21',
    phases: [
      {
        phase: 'firewall',
        resources: [
          { kind: 'package', name: 'ufw' },
          { kind: 'firewall-rule', proto: 'tcp', port: 22, from: '10.77.0.1/32', purpose: 'ssh (admin)' },
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

// Each kind's planning is specified by the data cases in test/unit/plan/<kind>/ (cases.test.ts);
// these are what holds across a whole host.
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
    const plan = planHost(desire(`KEY=${secret.reveal()}\n`, [secret]), bareFacts());
    const json = JSON.stringify(planToJson(plan));
    expect(json).not.toContain('hunter2');
    expect(json).toContain('"resource":"file /etc/default/prometheus-node-exporter"');
    expect(json).toContain('missing (holds secrets: no diff shown)');
    expect(json).not.toContain('KEY=');
  });
});
