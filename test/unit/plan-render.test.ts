import { describe, expect, it } from 'vitest';
import type { Facts, HostPlan } from '../../src/core/types.js';
import { sha256Hex } from '../../src/resources/file.js';
import { planHost } from '../../src/plan/plan-host.js';
import { notConverged, planTotal, renderHostPlan } from '../../src/plan/render.js';
import { desiredForHost } from '../../src/roles/index.js';
import { hostColumnWidth } from '../../src/cli/columns.js';
import { CLEAR, hostOf, testInventory, testSecrets } from './roles-fixture.js';
import { emptyFacts } from '../../src/facts/parse.js';

/** A Debian 12 host that holds nothing infra manages, read from 10.0.0.1. */
function bareFacts(overrides: Partial<Facts> = {}): Facts {
  return { ...emptyFacts('10.0.0.1'), os: { id: 'debian', versionId: '12', codename: 'bookworm' }, ...overrides };
}

/** The lab's shape: lb1 lb2 web1 web2 app1 app2 db1 db2, db1 the primary and db2 its replica. */
function eightHosts() {
  const nine = testInventory();
  return testInventory({ hosts: nine.hosts.filter((host) => host.name !== 'db3'), db: { ...nine.db, replicas: ['db2'] } });
}

function coldPlans(): { plans: HostPlan[]; text: string[] } {
  const inventory = eightHosts();
  const plans = inventory.hosts.map((host) => planHost(desiredForHost(inventory, host, testSecrets()), bareFacts()));
  return { plans, text: plans.map((plan) => renderHostPlan(plan, hostOf(inventory, plan.host).address)) };
}

describe('the plan a person reads', () => {
  it('a cold 8-host fleet fits in 150 lines with its total, and shows no file content', () => {
    const { plans, text } = coldPlans();
    const output = [...text, planTotal(plans)].join('\n');
    expect(output.split('\n').length).toBeLessThanOrEqual(150);
    expect(output).not.toContain('import ');
    expect(output).not.toContain('-----BEGIN');
    expect(output.split('\n').at(-1)).toMatch(/^Plan: \d+ to add, \d+ to change, 0 to destroy on 8 hosts \(0 unchanged\)$/);
  });

  it('a new file is one line with its size, mode and owner', () => {
    const inventory = eightHosts();
    const plan = planHost(desiredForHost(inventory, hostOf(inventory, 'app1'), testSecrets()), bareFacts());
    const app = plan.changes.find((c) => c.resource.kind === 'file' && c.resource.path.endsWith('/app.py'));
    const content = app?.resource.kind === 'file' ? app.resource.content : '';
    const lines = content.split('\n').length - (content.endsWith('\n') ? 1 : 0);
    expect(renderHostPlan(plan, '10.0.0.31')).toMatch(new RegExp(`\\+ file /opt/app/releases/\\w+/app\\.py \\(new, ${lines} lines, 0755 root:root\\)$`, 'm'));
  });

  it('--diff shows the content of new files, never one holding a secret', () => {
    const inventory = eightHosts();
    const plan = planHost(desiredForHost(inventory, hostOf(inventory, 'web1'), testSecrets()), bareFacts());
    const withDiff = renderHostPlan(plan, '10.0.0.21', { diff: true });
    expect(withDiff).toContain('+-----BEGIN CERTIFICATE-----');
    expect(withDiff).toMatch(/\+ file \/etc\/ssl\/infra\/www\.foobar\.com\.key \(new, \d+ lines, 0600 root:root, holds secrets\)/);
    expect(withDiff).not.toContain(CLEAR.tlsKey.split('\n')[1]);
    expect(renderHostPlan(plan, '10.0.0.21')).not.toContain('-----BEGIN CERTIFICATE-----');
  });

  it('an updated file shows its diff; packages, services and rules of a phase share a line', () => {
    const plan: HostPlan = {
      host: 'web1',
      notices: [],
      pendingHandlers: [],
      serving: [],
      changes: [
        {
          phase: 'firewall',
          action: 'create',
          reason: 'rule missing',
          resource: { kind: 'firewall-rule', proto: 'tcp', port: 443, from: '10.0.0.11', purpose: 'https (lb)' },
        },
        {
          phase: 'firewall',
          action: 'create',
          reason: 'rule missing',
          resource: { kind: 'firewall-rule', proto: 'tcp', port: 443, from: '10.0.0.12', purpose: 'https (lb)' },
        },
        { phase: 'web', action: 'create', reason: 'not installed', resource: { kind: 'package', name: 'nginx' } },
        { phase: 'web', action: 'create', reason: 'not installed', resource: { kind: 'package', name: 'curl' } },
        {
          phase: 'web',
          action: 'update',
          reason: 'content differs',
          resource: { kind: 'file', path: '/etc/nginx/nginx.conf', content: 'b\n', mode: '0644', owner: 'root', group: 'root' },
          diff: '===\n--- a\n+++ b\n@@ -1 +1 @@\n-a\n+b\n',
        },
        { phase: 'web', action: 'noop', reason: 'installed', resource: { kind: 'package', name: 'ufw' } },
      ],
    };
    expect(renderHostPlan(plan, '10.0.0.21').split('\n')).toEqual([
      'web1 (10.0.0.21): 4 to add, 1 to change, 0 to destroy, 1 unchanged',
      '  firewall  + ufw allow 443/tcp from 10.0.0.11, 10.0.0.12',
      '  web       + packages nginx, curl',
      '            ~ file /etc/nginx/nginx.conf  (content differs)',
      '                +++ b',
      '                @@ -1 +1 @@',
      '                -a',
      '                +b',
    ]);
    expect(renderHostPlan(plan, '10.0.0.21', { verbose: true })).toMatch(/^ {12}  package ufw {2}\(installed\)$/m);
  });

  it('the total counts a reload left pending as a change, and hosts with nothing to do as unchanged', () => {
    const converged: HostPlan = {
      host: 'db1',
      changes: [{ phase: 'db', action: 'noop', reason: 'installed', resource: { kind: 'package', name: 'mariadb-server' } }],
      pendingHandlers: [],
      notices: [],
      serving: [],
    };
    const pending: HostPlan = { ...converged, host: 'db2', pendingHandlers: ['restart:mariadb'] };
    const file = { kind: 'file' as const, path: '/x', content: 'x\n', mode: '0644', owner: 'root', group: 'root' };
    const removing: HostPlan = {
      ...converged,
      host: 'web1',
      changes: [
        { phase: 'web', action: 'delete', reason: 'not wanted', resource: file },
        { phase: 'web', action: 'create', reason: 'missing', resource: file },
      ],
    };
    expect(planTotal([converged, pending, removing])).toBe('Plan: 1 to add, 1 to change, 1 to destroy on 3 hosts (1 unchanged)');
    expect(planTotal([converged])).toBe('Plan: 0 to add, 0 to change, 0 to destroy on 1 host (1 unchanged)');
    expect(sha256Hex('x')).toHaveLength(64);
  });

  it('the host column fits the longest name (at least 12 wide)', () => {
    expect(hostColumnWidth(['web1', 'db1'])).toBe(12);
    expect(hostColumnWidth(['web1', 'frontend-primary-01'])).toBe(19);
  });
});

describe('the verify after apply', () => {
  it('names what a new read of a host still finds to do, each with why, and handlers left pending', () => {
    const inventory = eightHosts();
    const plan = planHost(desiredForHost(inventory, hostOf(inventory, 'app1'), testSecrets()), bareFacts({ pendingHandlers: ['restart:app'] }));
    const message = notConverged(plan) as string;
    expect(message).toMatch(/^not converged after apply: /);
    expect(message).toContain('service app (unit not installed yet)');
    expect(message).toMatch(/handler restart:app \(still pending\)$/);
  });

  it('says nothing of a host whose new read finds nothing to do', () => {
    const inventory = eightHosts();
    const plan = planHost(desiredForHost(inventory, hostOf(inventory, 'app1'), testSecrets()), bareFacts());
    expect(notConverged({ ...plan, changes: plan.changes.map((change) => ({ ...change, action: 'noop' as const })) })).toBeUndefined();
  });
});
