import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { infraInProcess, withHomeHoldingSshKey } from './cli-in-process.js';
import { checkDocument, errorDocument, jsonSchemaText, provisionDocument, validateDocument } from '../../src/report/json-schema.js';

const ROOT = new URL('../../', import.meta.url).pathname;

// The inventories' hosts are never reached: every connection is refused as a closed SSH port
// refuses it. Host addresses must be real ones (validate refuses loopback), and test traffic may
// not leave this machine; the lab proves a real unreachable host (35-check).
vi.mock('../../src/transport/ssh.js', async (importOriginal) => {
  const ssh = await importOriginal<typeof import('../../src/transport/ssh.js')>();
  const refusing = {
    open: async (target: { host: string; address: string; port: number }) => {
      throw new ssh.ConnectionError(target.host, 'refused', `connect ECONNREFUSED ${target.address}:${target.port}`);
    },
  };
  return { ...ssh, HostConnection: refusing };
});
const MANY_PROBLEMS = `${ROOT}test/fixtures/inventories/many-problems.yaml`;

/** stdout as exactly one JSON document (JSON.parse fails on anything around it). */
function document(stdout: string): {
  format_version: number;
  command: string;
  ok: boolean;
  exitCode: number;
  error?: { kind: string; message: string; issues?: { line: number; path: string }[]; refusals?: string[] };
} {
  return JSON.parse(stdout);
}

/** A valid inventory of two hosts, web1 (web, app) and db1, that refuse every connection (see the mock above). */
async function unreachableInventory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-json-'));
  await writeFile(join(dir, 'id_ed25519'), 'not a key\n', { mode: 0o600 });
  const file = join(dir, 'inventory.yaml');
  await writeFile(
    file,
    [
      'domain: www.example.com',
      `state_dir: ${join(dir, 'state')}`,
      'firewall:',
      '  admin_sources: [10.0.0.1/32]',
      'db:',
      '  primary: db1',
      'app:',
      `  source: ${ROOT}examples/app`,
      'ssh:',
      '  port: 1',
      '  identity_file: ./id_ed25519',
      '  connect_timeout: 2',
      'hosts:',
      '  web1:',
      '    address: 10.0.0.21',
      '    roles: [web, app]',
      '  db1:',
      '    address: 10.0.0.41',
      '    roles: [db]',
      '',
    ].join('\n'),
  );
  return file;
}

withHomeHoldingSshKey();

afterEach(() => {
  process.exitCode = undefined;
});

describe('--json: every outcome is one JSON document on stdout, errors included', () => {
  it('a bad inventory (check, provision, render): the issues by file, line and key, exit 1', async () => {
    for (const args of [
      ['check', MANY_PROBLEMS],
      ['provision', MANY_PROBLEMS, '--dry-run'],
      ['render', MANY_PROBLEMS, '--out', join(tmpdir(), 'infra-render-never')],
    ]) {
      const result = await infraInProcess(...args, '--json');
      expect(result.code, args.join(' ')).toBe(1);
      const doc = document(result.stdout);
      expect(() => errorDocument.parse(doc)).not.toThrow();
      expect(doc).toMatchObject({ format_version: 1, command: args[0], ok: false, exitCode: 1, error: { kind: 'error' } });
      expect(doc.error?.issues?.map((issue) => `${issue.line} ${issue.path}`)).toEqual(['7 db.password', '13 hosts.web1.roles[0]', '15 hosts.db1.address']);
    }
  });

  it('a usage error (an unknown command, a missing argument, an unknown flag): kind "usage"', async () => {
    for (const args of [
      ['--json', 'frobnicate'],
      ['provision', '--json'],
      ['check', 'x.yaml', '--json', '--no-such-flag'],
    ]) {
      const result = await infraInProcess(...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(errorDocument.parse(document(result.stdout))).toMatchObject({ format_version: 1, ok: false, exitCode: 1, error: { kind: 'usage' } });
    }
  });

  it('--limit naming no host: the error with its did-you-mean, and --json anywhere on the line', async () => {
    const result = await infraInProcess('--json', 'validate', `${ROOT}inventory.example.yaml`, '--limit', 'wbe');
    expect(result.code).toBe(0);
    const provision = await infraInProcess('--limit', 'wbe', 'provision', `${ROOT}inventory.example.yaml`, '--dry-run', '--json');
    expect(provision.code).toBe(1);
    expect(errorDocument.parse(document(provision.stdout))).toMatchObject({
      command: 'provision',
      error: { kind: 'error', message: expect.stringMatching(/--limit wbe: .*did you mean web\?/) },
    });
  });

  it('a saved plan that cannot be read: kind "error", naming the file and how to make one', async () => {
    const result = await infraInProcess('apply', join(tmpdir(), 'no-such-plan.json'), '--json');
    expect(result.code).toBe(1);
    expect(errorDocument.parse(document(result.stdout))).toMatchObject({
      command: 'apply',
      error: { message: expect.stringMatching(/no-such-plan\.json: cannot read the plan: no such file; make one with infra provision INVENTORY --out/) },
    });
  });

  it('unreachable hosts: provision and check print their report, each host unreachable with its error, exit 1', async () => {
    const file = await unreachableInventory();
    const provision = await infraInProcess('provision', file, '--dry-run', '--json');
    expect(provision.code, provision.stderr).toBe(1);
    const doc = provisionDocument.parse(document(provision.stdout));
    expect(doc).toMatchObject({ format_version: 1, ok: false, exitCode: 1 });
    expect(doc.hosts.map((h) => `${h.host} ${h.status}`)).toEqual(['web1 unreachable', 'db1 unreachable']);
    const check = await infraInProcess('check', file, '--json');
    expect(check.code).toBe(1);
    expect(checkDocument.parse(document(check.stdout))).toMatchObject({ format_version: 1, command: 'check', exitCode: 1 });
  });

  it('success carries the same envelope: validate', async () => {
    const result = await infraInProcess('validate', `${ROOT}inventory.example.yaml`, '--json');
    expect(result.code).toBe(0);
    expect(validateDocument.parse(document(result.stdout))).toEqual({
      format_version: 1,
      command: 'validate',
      ok: true,
      exitCode: 0,
      issues: [],
      warnings: [],
    });
  });

  it('docs/json.schema.json is what the schemas make today', () => {
    const committed = readFileSync(`${ROOT}docs/json.schema.json`, 'utf8');
    if (committed !== jsonSchemaText()) expect.fail('docs/json.schema.json is stale: run `npm run build && node bin/infra docs` and commit the result');
  });
});
