import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { colorEnabled, colorsFor } from '../../src/cli/color.js';
import { BIN, buildCli, ROOT, Terminal } from './init-cli.js';

const ESCAPE = '\u001b[';

/** This environment without the variables that switch colours on or off. */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  delete env.CI;
  return env;
}

const COMMANDS: [string, string[]][] = [
  ['graph inventory.example.yaml', ['graph', 'inventory.example.yaml']],
  ['--help', ['--help']],
  ['validate inventory.example.yaml', ['validate', 'inventory.example.yaml']],
  ['validate many-problems.yaml (issues)', ['validate', 'test/fixtures/inventories/many-problems.yaml']],
];

beforeAll(() => buildCli(), 120_000);

describe('colour helper', () => {
  it('colours a terminal only, and never when NO_COLOR is set or TERM is dumb', () => {
    const tty = { isTTY: true };
    const pipe = { isTTY: false };
    expect(colorEnabled(tty, {})).toBe(true);
    expect(colorEnabled(pipe, {})).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    // https://no-color.org: an empty NO_COLOR does not count.
    expect(colorEnabled(tty, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled(tty, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled(tty, { FORCE_COLOR: '0' })).toBe(true);
    expect(colorEnabled(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false);
    expect(colorsFor(pipe, {}).red('x')).toBe('x');
    expect(colorsFor(tty, {}).red('x')).toBe('\u001b[31mx\u001b[39m');
  });
});

describe('no escape codes where they do not belong', () => {
  it.each(COMMANDS)('infra %s piped, with and without NO_COLOR', (_name, args) => {
    for (const env of [baseEnv(), { ...baseEnv(), NO_COLOR: '1' }]) {
      const run = spawnSync('node', [BIN, ...args], { cwd: ROOT, env, encoding: 'utf8' });
      expect(run.stdout.length + run.stderr.length).toBeGreaterThan(0);
      expect(run.stdout).not.toContain(ESCAPE);
      expect(run.stderr).not.toContain(ESCAPE);
    }
  });

  it.each(COMMANDS)('infra %s on a terminal with NO_COLOR=1', async (_name, args) => {
    const term = new Terminal(args, { cwd: ROOT, env: { ...baseEnv(), NO_COLOR: '1' } });
    await term.exitCode();
    expect(term.raw.length).toBeGreaterThan(0);
    expect(term.raw).not.toContain(ESCAPE);
  });

  it('while the same graph on a terminal without NO_COLOR is coloured', async () => {
    const term = new Terminal(['graph', 'inventory.example.yaml'], { cwd: ROOT, env: baseEnv() });
    expect(await term.exitCode()).toBe(0);
    expect(term.raw).toContain(`${ESCAPE}1mDNS`);
  });
});
