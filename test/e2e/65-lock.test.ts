import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { quoteCommand } from '../../src/core/shell.js';
import { LAB_INVENTORY, ROOT, labHosts, mustOnHost, runInfra, waitFor, type LabHost, told } from './helpers.js';

/**
 * One run at a time. Starting point: the stack converged (60-plans leaves it so). An operator's
 * provision waits at its confirmation question, on a terminal, holding the lock on every host; a
 * second provision refuses within seconds naming that run, and the first, once answered, applies.
 * A run killed with SIGKILL while it holds the lock does not block the next, which takes the lock
 * over and says whose it was.
 */
let hosts: LabHost[];
let app1: LabHost;

interface TerminalRun {
  child: ChildProcessWithoutNullStreams;
  output: string;
  exited: Promise<number>;
}

/** `infra provision` on a terminal (script(1) gives it one), so it asks before it applies. */
function provisionOnTerminal(): TerminalRun {
  const command = quoteCommand([process.execPath, join(ROOT, 'bin', 'infra'), 'provision', LAB_INVENTORY]);
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
  const run: TerminalRun = { child, output: '', exited: new Promise((resolve) => child.on('close', (code) => resolve(code ?? 255))) };
  child.stdout.on('data', (chunk: Buffer) => (run.output += chunk.toString()));
  terminalRuns.push(run);
  return run;
}

async function asking(run: TerminalRun): Promise<void> {
  await waitFor('the provision to ask for confirmation', async () => run.output.includes('Apply these changes?'), 60_000);
}

/** A change one provision repairs: the app's config made world-readable by hand. */
async function driftApp1(): Promise<void> {
  await mustOnHost(app1.address, 'chmod 0644 /etc/app/app.env');
}

async function app1EnvMode(): Promise<string> {
  return (await mustOnHost(app1.address, 'stat -c %a /etc/app/app.env')).trim();
}

/** Runs on a terminal that a failed test left waiting, ended so they hold no lock for the next test. */
const terminalRuns: TerminalRun[] = [];
afterEach(() => {
  for (const run of terminalRuns.splice(0)) run.child.kill('SIGKILL');
});

beforeAll(async () => {
  hosts = await labHosts();
  app1 = hosts.find((host) => host.name === 'app1') as LabHost;
  const check = await runInfra(['check', LAB_INVENTORY]);
  expect(check.code, told(check)).toBe(0);
});

describe('one run at a time', () => {
  it('a second provision exits 1 within 10 s naming the run that holds the lock, and the first then applies', async () => {
    await driftApp1();
    const first = provisionOnTerminal();
    await asking(first);
    const started = Date.now();
    const second = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(second.code, told(second)).toBe(1);
    expect(second.stderr).toMatch(/another infra run holds the lock on 8 hosts; nothing was changed/);
    expect(second.stderr).toMatch(/app1: locked by \S+@\S+ \(pid \d+, infra provision\) since \d{4}-/);
    expect(await app1EnvMode()).toBe('644');
    first.child.stdin.write('y\r');
    expect(await first.exited, first.output).toBe(0);
    expect(await app1EnvMode()).toBe('600');
    expect(await mustOnHost(app1.address, 'cat /run/infra.lock')).toBe('');
  });

  it('a run killed with SIGKILL while holding the lock does not block the next, which takes it over and says so', async () => {
    await driftApp1();
    const killed = provisionOnTerminal();
    await asking(killed);
    const holder = await mustOnHost(app1.address, 'cat /run/infra.lock');
    const pid = Number(/\(pid (\d+), infra provision\)/.exec(holder)?.[1]);
    expect(pid, holder).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await killed.exited;
    const next = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    expect(next.code, told(next)).toBe(0);
    expect(next.stderr).toContain(`app1: a run was cut short while it held the lock (${holder.trim()})`);
    const check = await runInfra(['check', LAB_INVENTORY]);
    expect(check.code, told(check)).toBe(0);
  });

  it('check takes no lock: it reads the fleet while a provision holds it', async () => {
    await driftApp1();
    const holding = provisionOnTerminal();
    await asking(holding);
    const check = await runInfra(['check', LAB_INVENTORY]);
    expect(check.code, told(check)).toBe(2);
    holding.child.stdin.write('y\r');
    expect(await holding.exited, holding.output).toBe(0);
  });
});
