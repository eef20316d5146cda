import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HELD, RELEASE, lockOutcome, lockScript, takeoverWarning } from '../../src/engine/lock.js';

/**
 * The lock script run by bash on this machine the way a host runs it: the script on stdin, then
 * the release line (or the end of stdin when the run is killed). The file is in a temp folder.
 */
interface Running {
  child: ChildProcessWithoutNullStreams;
  output: string;
  exited: Promise<number>;
}

function start(script: string): Running {
  const child = spawn('bash', ['-s']);
  const running: Running = { child, output: '', exited: new Promise((resolve) => child.on('close', (code) => resolve(code ?? -1))) };
  child.stdout.on('data', (chunk: Buffer) => (running.output += chunk.toString()));
  child.stdin.write(`__infra_held() {\n${script}\n}\n__infra_held\n`);
  return running;
}

async function holding(running: Running): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!running.output.includes(`${HELD}\n`)) {
    if (Date.now() > deadline) throw new Error(`lock not taken: ${running.output}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'infra-lock-'));
  file = join(dir, 'infra.lock');
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('the host lock', () => {
  it('refuses a second run while the first holds it, naming the first, and is free again once released', async () => {
    const first = start(lockScript('alice@laptop (pid 1, infra provision) since T1', 0, file));
    await holding(first);
    const second = start(lockScript('bob@ci (pid 2, infra provision) since T2', 0, file));
    expect(await second.exited).toBe(3);
    expect(lockOutcome('web1', { held: false, output: second.output, code: 3 })).toEqual({
      host: 'web1',
      state: 'busy',
      holder: 'alice@laptop (pid 1, infra provision) since T1',
    });
    first.child.stdin.end(`${RELEASE}\n`);
    expect(await first.exited).toBe(0);
    expect(await readFile(file, 'utf8')).toBe('');
    const third = start(lockScript('bob@ci (pid 3, infra provision) since T3', 0, file));
    await holding(third);
    expect(lockOutcome('web1', { held: true, output: third.output.slice(0, third.output.indexOf(HELD)) })).toEqual({ host: 'web1', state: 'held' });
    third.child.stdin.end(`${RELEASE}\n`);
    await third.exited;
  });

  it('is taken over when its holder went away without releasing it, and the next run learns who that was', async () => {
    const killed = start(lockScript('alice@laptop (pid 1, infra provision) since T1', 0, file));
    await holding(killed);
    // The run's connection ends: stdin closes with no release line.
    killed.child.stdin.end();
    expect(await killed.exited).toBe(0);
    const next = start(lockScript('bob@ci (pid 2, infra provision) since T2', 0, file));
    await holding(next);
    expect(lockOutcome('db1', { held: true, output: next.output.slice(0, next.output.indexOf(HELD)) })).toEqual({
      host: 'db1',
      state: 'held',
      leftBy: 'alice@laptop (pid 1, infra provision) since T1',
    });
    expect(await readFile(file, 'utf8')).toBe('bob@ci (pid 2, infra provision) since T2\n');
    next.child.stdin.end(`${RELEASE}\n`);
    await next.exited;
  });

  it('waits for the holder with a wait time, and takes the lock once it is released', async () => {
    const first = start(lockScript('alice', 0, file));
    await holding(first);
    const waiting = start(lockScript('bob', 5, file));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(waiting.output).toBe('');
    first.child.stdin.end(`${RELEASE}\n`);
    await holding(waiting);
    waiting.child.stdin.end(`${RELEASE}\n`);
    expect(await waiting.exited).toBe(0);
  });

  it('writes a holder that contains quotes or a newline as one inert line', async () => {
    const running = start(lockScript(`o'brien "$(touch ${dir}/owned)"\nsecond line`, 0, file));
    await holding(running);
    expect(await readFile(file, 'utf8')).toBe(`o'brien "$(touch ${dir}/owned)" second line\n`);
    running.child.stdin.end(`${RELEASE}\n`);
    await running.exited;
    await expect(readFile(join(dir, 'owned'))).rejects.toThrow();
  });
});

describe('a lock taken over from a run that was cut short', () => {
  it('is said with the host and the holder the dead run left, the same for every command', () => {
    expect(takeoverWarning('app1', 'ops@ctl (pid 42, infra provision) since 2026-11-26T10:00:00Z')).toBe(
      'infra: warning: app1: a run was cut short while it held the lock (ops@ctl (pid 42, infra provision) since 2026-11-26T10:00:00Z); its lock is taken over',
    );
  });
});
