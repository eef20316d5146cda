import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildChangeScript, buildHandlerScript, scriptFailure, triggeredHandlers } from '../../src/apply/scripts.js';
import type { Change, Handler, Resource } from '../../src/core/types.js';

/*
 * Handler and change scripts run by a local bash against a stand-in `systemctl` that behaves like
 * systemd for a unit which crash-looped before its configuration was written: it has hit its
 * start limit, so a restart or a start is refused until the failed state is reset. The lab proves
 * handlers on real systemd; this pins the order of the commands.
 */
function runWithCrashLoopedUnit(script: string): { result: { code: number; stdout: string; stderr: string }; calls: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'infra-handler-'));
  const log = join(dir, 'calls');
  writeFileSync(
    join(dir, 'systemctl'),
    [
      '#!/bin/bash',
      `echo "$*" >> ${log}`,
      `state=${dir}/state`,
      'case "$1" in',
      '  reset-failed) echo reset > "$state" ;;',
      '  restart|start) if [ "$(cat "$state" 2>/dev/null)" != reset ]; then echo "Job for $2 failed: start request repeated too quickly" >&2; exit 1; fi; echo 200 > "$state.pid" ;;',
      '  show) cat "$state.pid" 2>/dev/null || echo 100 ;;',
      '  is-active) exit 0 ;;',
      'esac',
    ].join('\n'),
  );
  chmodSync(join(dir, 'systemctl'), 0o755);
  const run = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
  return { result: { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr }, calls: readFileSync(log, 'utf8').trim().split('\n') };
}

describe('a restart handler', () => {
  const { result, calls } = runWithCrashLoopedUnit(buildHandlerScript([{ id: 'restart:exporter', service: 'exporter', action: 'restart' }], []));

  it("clears a unit's failed state and start limit before restarting it, so a unit that crash-looped still restarts", () => {
    expect(scriptFailure(result)).toBeUndefined();
    const reset = calls.indexOf('reset-failed exporter.service');
    expect(reset).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf('restart exporter.service')).toBeGreaterThan(reset);
  });
});

describe('a service to keep running', () => {
  // Its package started it before the phase wrote its configuration (packages are installed early).
  const { result, calls } = runWithCrashLoopedUnit(
    buildChangeScript(
      [{ phase: 'web', resource: { kind: 'service', name: 'exporter', enabled: true, running: true }, action: 'update', reason: 'failed → running' }],
      [],
      [],
    ),
  );

  it('is unmasked, enabled, cleared of its failed state, then started', () => {
    expect(scriptFailure(result)).toBeUndefined();
    expect(calls).toEqual(['unmask exporter', 'enable exporter', 'reset-failed exporter', 'start exporter']);
  });
});

describe('the handlers a phase triggers', () => {
  const restart: Handler = { id: 'restart:mariadb', service: 'mariadb', action: 'restart' };
  const settings: Resource = { kind: 'file', path: '/etc/mysql/60-infra.cnf', content: 'x', mode: '0644', owner: 'root', group: 'root', notify: [restart.id] };
  const restartsItself: Resource = {
    kind: 'command',
    name: 'mariadb runs with infra settings',
    script: 'systemctl restart mariadb',
    unless: 'false',
    carriesOut: [restart.id],
  };
  const readOnly: Resource = {
    kind: 'file',
    path: '/etc/mysql/61-infra-read-only.cnf',
    content: 'x',
    mode: '0644',
    owner: 'root',
    group: 'root',
    notify: [restart.id],
  };
  const change = (resource: Resource, action: Change['action'] = 'update'): Change => ({ phase: 'db', resource, action, reason: 'differs' });

  it('leaves out a restart that a command after the changed file carries out itself', () => {
    expect(triggeredHandlers([change(settings), change(restartsItself)], [restart])).toEqual([]);
  });

  it('keeps the restart when that command has nothing to do, or a change after it asks again', () => {
    expect(triggeredHandlers([change(settings), change(restartsItself, 'noop')], [restart])).toEqual([restart.id]);
    expect(triggeredHandlers([change(settings), change(restartsItself), change(readOnly)], [restart])).toEqual([restart.id]);
  });
});
