import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildHandlerScript, scriptFailure } from '../../src/apply/scripts.js';

/*
 * The handler script run by a local bash against a stand-in `systemctl` that behaves like
 * systemd for a unit which crash-looped before its configuration was written: it has hit its
 * start limit, so a restart is refused until the failed state is reset. The lab proves handlers
 * on real systemd; this pins the order of the commands.
 */
function runRestartHandler(): { result: { code: number; stdout: string; stderr: string }; calls: string[] } {
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
      '  restart) if [ "$(cat "$state" 2>/dev/null)" != reset ]; then echo "Job for $2 failed: start request repeated too quickly" >&2; exit 1; fi; echo 200 > "$state.pid" ;;',
      '  show) cat "$state.pid" 2>/dev/null || echo 100 ;;',
      '  is-active) exit 0 ;;',
      'esac',
    ].join('\n'),
  );
  chmodSync(join(dir, 'systemctl'), 0o755);
  const script = buildHandlerScript([{ id: 'restart:exporter', service: 'exporter', action: 'restart' }], []);
  const run = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
  return { result: { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr }, calls: readFileSync(log, 'utf8').trim().split('\n') };
}

describe('a restart handler', () => {
  const { result, calls } = runRestartHandler();

  it('clears a unit\'s failed state and start limit before restarting it, so a unit that crash-looped still restarts', () => {
    expect(scriptFailure(result)).toBeUndefined();
    const reset = calls.indexOf('reset-failed exporter.service');
    expect(reset).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf('restart exporter.service')).toBeGreaterThan(reset);
  });
});
