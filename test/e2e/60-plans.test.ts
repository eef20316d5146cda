import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labReset } from '../../src/lab/lab.js';
import { LAB_DIR, LAB_INVENTORY, labHosts, mustOnHost, onHost, runInfra, type LabHost, told } from './helpers.js';

/**
 * Plans a person can read and plans applied exactly as reviewed. Starting point: the lab reset to
 * eight bare hosts and no infra state (this file runs last and starts its own deployment). A cold
 * --dry-run fits on a screenful or three and ends with the fleet's total; a plan saved with --out
 * is applied by `infra apply` and converges the stack; a plan saved before a host was edited by
 * hand is refused, naming that host, with nothing changed. The stack is left converged.
 */
const TOTAL = /^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy on (\d+) hosts \((\d+) unchanged\)$/;
let hosts: LabHost[];
let work: string;

function host(name: string): LabHost {
  const found = hosts.find((h) => h.name === name);
  if (!found) throw new Error(`the lab inventory has no ${name}`);
  return found;
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}

/** The clear text of every secret infra keeps for the lab (passwords, private keys). */
async function secretValues(): Promise<string[]> {
  const state = join(LAB_DIR, '.infra');
  const secrets = await readdir(join(state, 'secrets')).then((names) => names.map((name) => join(state, 'secrets', name)));
  const keys = [join(state, 'ca', 'ca.key'), ...(await readdir(join(state, 'tls'))).filter((n) => n.endsWith('.key')).map((n) => join(state, 'tls', n))];
  const values = await Promise.all([...secrets, ...keys].map((file) => readFile(file, 'utf8')));
  return values.flatMap((value) => {
    const trimmed = value.trim();
    // A PEM key is checked by its body lines, long enough to be unique to it.
    return trimmed.includes('-----BEGIN') ? trimmed.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----')) : [trimmed];
  });
}

beforeAll(async () => {
  await labReset({});
  await rm(join(LAB_DIR, '.infra'), { recursive: true, force: true });
  await rm(join(LAB_DIR, 'infra-state.age'), { force: true });
  hosts = await labHosts();
  work = await mkdtemp(join(tmpdir(), 'infra-plans-'));
});

describe('the plan of a cold fleet', () => {
  it('--dry-run on 8 bare hosts is at most 150 lines, shows no file content, ends with the total and exits 2', async () => {
    const result = await runInfra(['provision', LAB_INVENTORY, '--dry-run']);
    expect(result.code, told(result)).toBe(2);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.length, result.stdout).toBeLessThanOrEqual(150);
    const total = TOTAL.exec(lastLine(result.stdout));
    expect(total, lastLine(result.stdout)).not.toBeNull();
    const [, add, , destroy, hostCount, unchanged] = (total as RegExpExecArray).map(Number);
    expect({ hostCount, unchanged, destroy }).toEqual({ hostCount: 8, unchanged: 0, destroy: 0 });
    expect(add).toBeGreaterThan(100);
    expect(result.stdout).toMatch(/^ +\+ file \/opt\/app\/releases\/\w+\/app\.py \(new, \d+ lines, 0755 root:root\)$/m);
    expect(result.stdout).not.toContain('BEGIN CERTIFICATE');
    expect(result.stdout).not.toContain('def ');
    for (const h of hosts) expect(result.stdout).toMatch(new RegExp(`^${h.name} \\(${h.address.replace(/\./g, '\\.')}\\): \\d+ to add`, 'm'));
  });
});

describe('a saved plan', () => {
  it('--out writes the plan and changes nothing; apply converges the stack; then --dry-run exits 0', async () => {
    const planFile = join(work, 'cold.json');
    const saved = await runInfra(['provision', LAB_INVENTORY, '--out', planFile]);
    expect(saved.code, told(saved)).toBe(2);
    expect(lastLine(saved.stdout)).toMatch(TOTAL);
    const text = await readFile(planFile, 'utf8');
    const plan = JSON.parse(text) as { kind: string; infra_version: string; inventory: { sha256: string }; hosts: Record<string, { facts_sha256: string }> };
    expect(plan.kind).toBe('infra-plan');
    expect(Object.keys(plan.hosts).sort()).toEqual(hosts.map((h) => h.name).sort());
    for (const value of await secretValues()) expect(text).not.toContain(value);
    expect(text).not.toContain('PRIVATE KEY');
    // Nothing was applied: web1 still has no nginx.
    expect((await onHost(host('web1').address, 'dpkg-query -W -f=\'${Status}\' nginx 2>/dev/null | grep -q "install ok installed"')).code).not.toBe(0);

    const started = Date.now();
    const applied = await runInfra(['apply', planFile, '--yes']);
    expect(applied.code, told(applied)).toBe(0);
    process.stderr.write(`[60-plans] cold apply of a saved plan: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    for (const h of hosts) expect(applied.stdout).toMatch(new RegExp(`^${h.name}\\s+changed\\s`, 'm'));

    const after = await runInfra(['provision', LAB_INVENTORY, '--dry-run']);
    expect(after.code, told(after)).toBe(0);
    expect(lastLine(after.stdout)).toBe('Plan: 0 to add, 0 to change, 0 to destroy on 8 hosts (8 unchanged)');
  });

  it('a plan saved before another host was edited by hand is refused, naming that host, and nothing changes', async () => {
    const web1 = host('web1');
    const app1 = host('app1');
    const stubStatus = '/etc/nginx/conf.d/infra-stub-status.conf';
    const exporterDefaults = '/etc/default/prometheus-node-exporter';
    // web1 drifts first: the plan saved now updates it.
    await mustOnHost(web1.address, `echo '# hand edit before the plan' >> ${stubStatus}`);
    const planFile = join(work, 'web1.json');
    const saved = await runInfra(['provision', LAB_INVENTORY, '--out', planFile]);
    expect(saved.code, told(saved)).toBe(2);
    expect(saved.stdout).toMatch(new RegExp(`~ file ${stubStatus.replace(/\./g, '\\.')} +\\(content differs\\)`));
    expect(lastLine(saved.stdout)).toBe('Plan: 0 to add, 1 to change, 0 to destroy on 8 hosts (7 unchanged)');

    // Then app1 is edited by hand: the reviewed plan no longer says what apply would do.
    await mustOnHost(app1.address, `echo '# hand edit after the plan' >> ${exporterDefaults}`);
    const refused = await runInfra(['apply', planFile, '--yes']);
    expect(refused.code, told(refused)).toBe(1);
    expect(refused.stderr).toContain(`app1: changed since the plan: file ${exporterDefaults}`);
    expect(refused.stderr).toMatch(/nothing was changed/);
    expect(refused.stderr).not.toMatch(/^ +web1:/m);
    const asJson = await runInfra(['apply', planFile, '--yes', '--json']);
    expect(asJson.code).toBe(1);
    const doc = JSON.parse(asJson.stdout) as { format_version: number; ok: boolean; error: { refusals: string[] } };
    expect(doc).toMatchObject({ format_version: 1, ok: false });
    expect(doc.error.refusals).toEqual([`app1: changed since the plan: file ${exporterDefaults}`]);
    // Neither host was touched.
    expect(await mustOnHost(web1.address, `tail -n1 ${stubStatus}`)).toBe('# hand edit before the plan\n');
    expect(await mustOnHost(app1.address, `tail -n1 ${exporterDefaults}`)).toBe('# hand edit after the plan\n');

    // A new plan covers both hosts and converges them; the stack is left as the next run expects.
    const repaired = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(repaired.code, told(repaired)).toBe(0);
    const check = await runInfra(['check', LAB_INVENTORY]);
    expect(check.code, told(check)).toBe(0);
  });
});
