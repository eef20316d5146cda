import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import type { CommandResource, SymlinkResource } from '../../src/core/types.js';
import { APP_ROOT, appPhase, appRollbackPhase } from '../../src/roles/app.js';
import { chooseRollback, chooseRollbacks, parseReleasesReading, readReleasesScript, type ReleasesReading } from '../../src/rollback/releases.js';
import { hostOf, testInventory, testSecrets } from './roles-fixture.js';

const A = 'aaaaaaaaaaaa';
const B = 'bbbbbbbbbbbb';
const C = 'cccccccccccc';

function reading(current: string | undefined, history: string[], present = [A, B, C]): ReleasesReading {
  return { ...(current ? { current } : {}), history, present };
}

describe("reading an app host's releases", () => {
  it('reports where current points, the history in order and the release directories, in a local bash', () => {
    const root = mkdtempSync(join(tmpdir(), 'infra-rollback-'));
    for (const id of [A, B]) mkdirSync(join(root, 'releases', id), { recursive: true });
    writeFileSync(join(root, 'releases', '.history'), `${A}\n${B}\n${A}\nnot a release\n`);
    symlinkSync(join(root, 'releases', A), join(root, 'current'));
    const result = spawnSync('bash', ['-c', readReleasesScript().replaceAll(APP_ROOT, root)], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    // The link is read from a temp folder: put the host's path back for the parser.
    expect(parseReleasesReading(result.stdout.replaceAll(root, APP_ROOT))).toEqual({ current: A, history: [A, B, A], present: [A, B] });
  });

  it('reads a host with no release at all as nothing', () => {
    const root = mkdtempSync(join(tmpdir(), 'infra-rollback-'));
    const result = spawnSync('bash', ['-c', readReleasesScript().replaceAll(APP_ROOT, root)], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(parseReleasesReading(result.stdout)).toEqual({ history: [], present: [] });
  });

  it('does not take a current link outside the releases for a release', () => {
    expect(parseReleasesReading(`current\t/srv/elsewhere/${A}\n`).current).toBeUndefined();
  });
});

describe('the release a rollback puts back', () => {
  it('is the one before the current release in the history', () => {
    expect(chooseRollback('app1', reading(C, [A, B, C]))).toEqual({ host: 'app1', from: C, to: B });
  });

  it('goes forward again on a second rollback: the first one is recorded', () => {
    // After rolling back from C to B, the history ends with B.
    expect(chooseRollback('app1', reading(B, [A, B, C, B]))).toEqual({ host: 'app1', from: B, to: C });
    expect(chooseRollback('app1', reading(C, [A, B, C, B, C]))).toEqual({ host: 'app1', from: C, to: B });
  });

  it('is the newest recorded release when current was switched but not recorded (a deploy cut short)', () => {
    expect(chooseRollback('app1', reading(C, [A, B]))).toEqual({ host: 'app1', from: C, to: B });
  });

  it('is refused, naming the host and the fix, when there is no previous release', () => {
    expect(chooseRollback('app1', reading(A, [A]))).toEqual({
      host: 'app1',
      refusal: expect.stringMatching(/^app1: no release before a{12} .*infra provision/),
    });
    expect(chooseRollback('app1', reading(A, []))).toHaveProperty('refusal');
    expect(chooseRollback('app1', reading(undefined, [A, B]))).toEqual({
      host: 'app1',
      refusal: expect.stringMatching(/^app1: \/opt\/app\/current points at no release.*infra provision/),
    });
  });

  it('is refused when the previous release is no longer on the host', () => {
    expect(chooseRollback('app1', reading(B, [A, B], [B]))).toEqual({
      host: 'app1',
      refusal: expect.stringMatching(/^app1: the previous release a{12} is no longer/),
    });
  });

  it('is refused for every host at once when any host has none: nothing changes anywhere', () => {
    const readings = new Map([
      ['app1', reading(B, [A, B])],
      ['app2', reading(B, [B])],
    ]);
    expect(() => chooseRollbacks(readings)).toThrow(UserError);
    expect(() => chooseRollbacks(readings)).toThrow(/nothing was changed:\n {2}app2: no release before/);
    expect(chooseRollbacks(new Map([['app1', reading(B, [A, B])]]))).toEqual([{ host: 'app1', from: B, to: A }]);
  });
});

describe('the app phase of a rollback', () => {
  const inventory = testInventory();
  const host = hostOf(inventory, 'app1');
  const rollback = appRollbackPhase(inventory, host, A);
  const deploy = appPhase(inventory, host, testSecrets());

  it('switches current to the release, records it and restarts the app, nothing else', () => {
    expect(rollback.resources.map((r) => r.kind)).toEqual(['symlink', 'command', 'service']);
    const link = rollback.resources[0] as SymlinkResource;
    expect(link).toEqual({ kind: 'symlink', path: '/opt/app/current', target: `/opt/app/releases/${A}`, notify: ['restart:app'] });
    expect((rollback.resources[1] as CommandResource).name).toBe(`release history ends with ${A}`);
  });

  it('goes one host at a time with the restart, health check and settle wait of a deploy', () => {
    expect(rollback.handlers).toEqual(deploy.handlers);
    expect({ serial: rollback.serial, settleSeconds: rollback.settleSeconds }).toEqual({ serial: deploy.serial, settleSeconds: deploy.settleSeconds });
    expect(rollback.resources).toContainEqual(deploy.resources.find((r) => r.kind === 'service'));
  });

  it("checks that the release's Python code parses before the restart", () => {
    const root = mkdtempSync(join(tmpdir(), 'infra-rollback-code-'));
    const parses = (code: string): number | null => {
      writeFileSync(join(root, 'app.py'), code);
      const script = (rollback.validators[0]?.script ?? '').replace(`/opt/app/releases/${A}`, root);
      return spawnSync('bash', ['-c', script]).status;
    };
    expect(parses('print("ok")\n')).toBe(0);
    expect(parses('def broken(:\n')).not.toBe(0);
  });
});
