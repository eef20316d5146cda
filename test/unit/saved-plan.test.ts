import { describe, expect, it } from 'vitest';
import type { Facts } from '../../src/core/types.js';
import { planHost } from '../../src/plan/plan-host.js';
import { desiredForHost } from '../../src/roles/index.js';
import { buildSavedPlan, parseSavedPlan, savedPlanRefusals, type SavedPlan } from '../../src/report/saved-plan.js';
import { CLEAR, testInventory, testSecrets } from './roles-fixture.js';
import { emptyFacts } from '../../src/facts/parse.js';

/** A Debian 12 host that holds nothing infra manages, read from 10.0.0.1. */
function bareFacts(overrides: Partial<Facts> = {}): Facts {
  return { ...emptyFacts('10.0.0.1'), os: { id: 'debian', versionId: '12', codename: 'bookworm' }, ...overrides };
}

const INVENTORY_TEXT = 'domain: www.foobar.com\n# the test inventory\n';
const STATE = { 'secrets/db.password': '33 1700000000000', 'tls/web1.key': '241 1700000000000' };

/**
 * The role fixture's nine hosts planned from `factsOf(host)` (bare by default), with the
 * fixture's secrets, as provision --out saves it.
 */
function savedPlan(
  options: { factsOf?: (host: string) => Facts; inventoryText?: string; state?: Record<string, string>; version?: string; only?: string[] } = {},
): SavedPlan {
  const inventory = testInventory();
  const hosts = inventory.hosts.filter((host) => !options.only || options.only.includes(host.name));
  return buildSavedPlan({
    version: options.version ?? '0.1.0',
    createdAt: new Date('2026-11-26T12:00:00Z'),
    inventory: { file: '/srv/infra/inventory.yaml', text: options.inventoryText ?? INVENTORY_TEXT },
    state: options.state ?? STATE,
    hosts: hosts.map((host) => {
      const facts = options.factsOf?.(host.name) ?? bareFacts();
      return { plan: planHost(desiredForHost(inventory, host, testSecrets()), facts), address: host.address, facts };
    }),
  });
}

describe('a saved plan', () => {
  it('holds no secret in any form: files holding one are listed by path, without a digest', () => {
    const plan = savedPlan();
    const text = JSON.stringify(plan);
    for (const clear of [CLEAR.appPassword, CLEAR.replicationPassword, CLEAR.exporterPassword, 'TEST-KEY-MATERIAL-5c1e']) {
      expect(text).not.toContain(clear);
      expect(text).not.toContain(Buffer.from(clear).toString('base64'));
    }
    const key = plan.hosts.web1?.changes.find((change) => change.resource === 'file /etc/ssl/infra/www.foobar.com.key');
    expect(key).toEqual({
      phase: 'web',
      action: 'create',
      resource: 'file /etc/ssl/infra/www.foobar.com.key',
      reason: 'missing (holds secrets: no diff shown)',
      holds_secrets: true,
    });
  });

  it("records infra's version, the inventory's digest, the state's files and each host's facts digest", () => {
    const plan = savedPlan();
    expect(plan).toMatchObject({ format_version: 1, kind: 'infra-plan', infra_version: '0.1.0', state: STATE });
    expect(plan.inventory.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(plan.hosts)).toEqual(['lb1', 'lb2', 'web1', 'web2', 'app1', 'app2', 'db1', 'db2', 'db3']);
    expect(plan.hosts.web1?.facts_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('round trip: written, read back and made again from the same inputs, it is applied (no refusal)', () => {
    const saved = parseSavedPlan(JSON.stringify(savedPlan()));
    expect(savedPlanRefusals(saved, savedPlan())).toEqual([]);
  });

  it("a db host's GTID positions moving with writes do not refuse it", () => {
    const db = (position: string) => bareFacts({ db: { readOnly: false, gtidState: position, gtidPosition: position } });
    const saved = savedPlan({ factsOf: (host) => (host === 'db1' ? db('0-1-100') : bareFacts()) });
    expect(savedPlanRefusals(saved, savedPlan({ factsOf: (host) => (host === 'db1' ? db('0-1-250') : bareFacts()) }))).toEqual([]);
  });

  it('refuses, naming the host and the fact, when a host was edited since', () => {
    const edited = (host: string) =>
      host === 'web2'
        ? bareFacts({
            files: { '/etc/nginx/nginx.conf': { exists: true, type: 'file', sha256: 'e'.repeat(64), mode: '0644', owner: 'root', group: 'root' } },
            packages: { curl: '8.0' },
          })
        : bareFacts();
    expect(savedPlanRefusals(savedPlan(), savedPlan({ factsOf: edited }))).toEqual([
      'web2: changed since the plan: file /etc/nginx/nginx.conf is new, package curl is new',
    ]);
  });

  it('refuses when the inventory, the state or infra changed since', () => {
    const saved = savedPlan();
    expect(savedPlanRefusals(saved, savedPlan({ inventoryText: `${INVENTORY_TEXT}# edited\n` }))).toEqual([
      'inventory /srv/infra/inventory.yaml: changed since the plan',
    ]);
    expect(savedPlanRefusals(saved, savedPlan({ state: { ...STATE, 'secrets/db.password': '33 1700000099999' } }))).toEqual([
      'state directory: secrets/db.password changed since the plan',
    ]);
    expect(savedPlanRefusals(saved, savedPlan({ version: '0.2.0' }))).toEqual(['infra: planned with 0.1.0, this is 0.2.0']);
  });

  it('refuses a host in the plan that is not read now, and one read now that the plan lacks', () => {
    expect(savedPlanRefusals(savedPlan(), savedPlan({ only: ['lb1', 'lb2', 'web1', 'app1', 'app2', 'db1', 'db2', 'db3'] }))).toEqual([
      'web2: in the plan, not read now',
    ]);
    expect(savedPlanRefusals(savedPlan({ only: ['web1'] }), savedPlan({ only: ['web1', 'web2'] }))).toEqual(['web2: read now, not in the plan']);
  });

  it("refuses a host whose facts match but whose plan differs (the app's source changed)", () => {
    const saved = savedPlan();
    const now = savedPlan();
    const app = now.hosts.app1?.changes.find((change) => change.resource.endsWith('/app.py'));
    if (app) app.content_sha256 = 'f'.repeat(64);
    expect(savedPlanRefusals(saved, now)).toEqual([
      expect.stringMatching(/^app1: its plan is now different \(create file \/opt\/app\/releases\/\w+\/app\.py\)$/),
    ]);
  });

  it('reading: a file that is not a plan of this format is rejected, saying why', () => {
    expect(() => parseSavedPlan('{')).toThrow(/not JSON/);
    expect(() => parseSavedPlan('{"ok": true}')).toThrow(/not a plan written by infra provision --out/);
    expect(() => parseSavedPlan(JSON.stringify({ ...savedPlan(), format_version: 9 }))).toThrow(/format_version 9, this infra reads 1/);
  });
});
