import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildHandlerScript, buildReadyScript, scriptFailure } from '../../src/apply/scripts.js';

/*
 * The wait for a phase's ready condition, run by a local bash. The condition is a file that a
 * background job creates (the state a daemon reaches some time after it started); the lab proves
 * the lb's real condition (30-stack: the VIP is on lb1 as soon as a provision from bare hosts ends).
 */
function run(script: string): { code: number; stdout: string; stderr: string; seconds: number } {
  const started = Date.now();
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, seconds: (Date.now() - started) / 1000 };
}

describe('a ready condition', () => {
  const dir = mkdtempSync(join(tmpdir(), 'infra-ready-'));

  it('is retried until it holds, and the script then succeeds', () => {
    const flag = join(dir, 'elected');
    const script = buildReadyScript({ name: 'the daemon is elected', script: `test -e ${flag}`, seconds: 10 });
    const result = run(`(sleep 1; touch ${flag}) & ${script}`);
    expect(scriptFailure(result)).toBeUndefined();
    expect(result.seconds).toBeGreaterThanOrEqual(1);
  });

  it("that never holds fails the script after its seconds, naming it with the check's last output", () => {
    const script = buildReadyScript({ name: 'the daemon is elected', script: `echo "state BACKUP"; test -e ${join(dir, 'never')}`, seconds: 1 });
    const result = run(script);
    expect(scriptFailure(result)).toBe('step failed: the daemon is elected (not within 1 s)\nstate BACKUP');
  });
});

describe('a handler health check that never passes', () => {
  it("fails the handler script, naming the handler's step and the check's output", () => {
    // A stand-in for systemctl: every unit is active with a new main PID after a restart.
    const script = buildHandlerScript(
      [{ id: 'restart:exporter', service: 'exporter', action: 'restart', healthCheck: 'echo "connection refused"; false' }],
      [],
    );
    const systemctl = 'systemctl() { case "$1" in show) echo $((RANDOM + 2));; *) return 0;; esac; }; export -f systemctl; ';
    const result = run(systemctl + script);
    expect(scriptFailure(result)).toBe('step failed: restart exporter health check\nconnection refused');
  }, 20_000);
});
