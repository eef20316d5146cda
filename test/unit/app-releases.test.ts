import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildChangeScript } from '../../src/apply/scripts.js';
import type { Change, CommandResource } from '../../src/core/types.js';
import { APP_ROOT, appPhase, pruneReleasesCommand, releaseHistoryCommand } from '../../src/roles/app.js';
import { EXAMPLE_APP_DIR, hostOf, testInventory, testSecrets } from './roles-fixture.js';

/*
 * The app host's releases, in a local bash on a temp folder standing for /opt/app: the history
 * and prune commands as the probe runs their guards and the change script runs them (guard, then
 * the script unless it holds), in the order a deploy does after switching `current`.
 */
const id = (n: number) => n.toString(16).padStart(12, '0');

class AppHost {
  readonly root = mkdtempSync(join(tmpdir(), 'infra-releases-'));

  constructor(options: { releases?: number[]; history?: number[]; current?: number } = {}) {
    mkdirSync(join(this.root, 'releases'));
    // Older releases get older mtimes, as deploys made them.
    for (const n of options.releases ?? []) {
      mkdirSync(this.dir(n));
      utimesSync(this.dir(n), 1_000_000 + n * 60, 1_000_000 + n * 60);
    }
    if (options.history) writeFileSync(this.historyFile, options.history.map((n) => id(n) + '\n').join(''));
    if (options.current !== undefined) this.point(options.current);
  }

  get historyFile(): string {
    return join(this.root, 'releases', '.history');
  }

  dir(n: number): string {
    return join(this.root, 'releases', id(n));
  }

  point(n: number): void {
    rmSync(join(this.root, 'current'), { force: true });
    symlinkSync(this.dir(n), join(this.root, 'current'));
  }

  private bash(text: string): number | null {
    return spawnSync('bash', ['-c', text.replaceAll(APP_ROOT, this.root)], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } }).status;
  }

  holds(command: CommandResource): boolean {
    return this.bash(String(command.unless)) === 0;
  }

  /** What the change script does for a command the plan includes: its script unless its guard holds now. */
  converge(command: CommandResource): void {
    if (!this.holds(command)) expect(this.bash(command.script), command.name).toBe(0);
  }

  /** A deploy of release n: the directory made, `current` switched, then history and prune. */
  deploy(n: number, keep: number): { planned: boolean[] } {
    const commands = [releaseHistoryCommand(id(n)), pruneReleasesCommand(id(n), keep)];
    // The probe reads the guards before anything changes.
    const planned = commands.map((command) => !this.holds(command));
    if (!existsSync(this.dir(n))) mkdirSync(this.dir(n));
    this.point(n);
    commands.forEach((command, index) => planned[index] && this.converge(command));
    return { planned };
  }

  history(): string[] {
    return readFileSync(this.historyFile, 'utf8').split('\n').filter(Boolean);
  }

  releases(): string[] {
    return readdirSync(join(this.root, 'releases'))
      .filter((name) => !name.startsWith('.'))
      .sort();
  }
}

describe('the release history (/opt/app/releases/.history)', () => {
  it('holds when its last entry is the release, and not when the file is missing or ends with another', () => {
    expect(new AppHost().holds(releaseHistoryCommand(id(1)))).toBe(false);
    expect(new AppHost({ history: [1, 2] }).holds(releaseHistoryCommand(id(2)))).toBe(true);
    expect(new AppHost({ history: [1, 2] }).holds(releaseHistoryCommand(id(1)))).toBe(false);
  });

  it('appends the release that became current, in a file readable by all', () => {
    const host = new AppHost({ releases: [1, 2], history: [1, 2], current: 2 });
    host.deploy(3, 5);
    expect(host.history()).toEqual([id(1), id(2), id(3)]);
    expect(statSync(host.historyFile).mode & 0o777).toBe(0o644);
  });

  it('on a host whose releases predate the history, starts it from them, oldest first, then the new one', () => {
    const host = new AppHost({ releases: [3, 1, 2], current: 3 });
    host.deploy(4, 5);
    expect(host.history()).toEqual([id(1), id(2), id(3), id(4)]);
  });

  it('keeps its last 100 entries', () => {
    const host = new AppHost({ releases: [1, 2], history: Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? 1 : 2)), current: 2 });
    host.deploy(3, 5);
    expect(host.history()).toHaveLength(100);
    expect(host.history().at(-1)).toBe(id(3));
  });
});

describe('pruning releases beyond app.keep_releases', () => {
  it('plans nothing while the history holds no more releases than it keeps', () => {
    const host = new AppHost({ releases: [1, 2], history: [1, 2], current: 2 });
    expect(host.holds(pruneReleasesCommand(id(2), 3))).toBe(true);
    expect(host.deploy(3, 3).planned).toEqual([true, false]);
    expect(host.releases()).toEqual([id(1), id(2), id(3)]);
  });

  it('plans the prune before the new release is recorded, and keeps the newest N with it', () => {
    const host = new AppHost({ releases: [1, 2, 3], history: [1, 2, 3], current: 3 });
    expect(host.deploy(4, 3).planned).toEqual([true, true]);
    expect(host.releases()).toEqual([id(2), id(3), id(4)]);
  });

  it('leaves a converged host alone: every guard holds on the next run', () => {
    const host = new AppHost({ releases: [1, 2, 3], history: [1, 2, 3], current: 3 });
    host.deploy(4, 3);
    expect(host.deploy(4, 3).planned).toEqual([false, false]);
  });

  it('after more deploys than it keeps, leaves exactly N releases, the current and the previous among them', () => {
    const host = new AppHost();
    for (let n = 1; n <= 8; n++) host.deploy(n, 3);
    expect(host.releases()).toEqual([id(6), id(7), id(8)]);
    expect(host.history().slice(-3)).toEqual([id(6), id(7), id(8)]);
  });

  it('counts a release once however often it came back (rollbacks), and keeps the previous one', () => {
    const host = new AppHost({ releases: [1, 2, 3, 4], history: [1, 2, 3, 4, 3, 4, 3], current: 3 });
    // Deploying 4 again (provision after a rollback): 4 and 3 are the newest two.
    host.deploy(4, 2);
    expect(host.releases()).toEqual([id(3), id(4)]);
  });

  it('never removes the release `current` points at, even one the history does not name', () => {
    const host = new AppHost({ releases: [1, 2, 3, 9], history: [1, 2, 3], current: 9 });
    host.converge(pruneReleasesCommand(id(3), 2));
    expect(host.releases()).toEqual([id(2), id(3), id(9)]);
  });

  it('on a host without a history: plans by count, and after the history starts keeps the newest by mtime', () => {
    expect(new AppHost({ releases: [1, 2], current: 2 }).holds(pruneReleasesCommand(id(3), 3))).toBe(true);
    const host = new AppHost({ releases: [1, 2, 3], current: 3 });
    expect(host.deploy(4, 3).planned).toEqual([true, true]);
    expect(host.releases()).toEqual([id(2), id(3), id(4)]);
    expect(host.deploy(4, 3).planned).toEqual([false, false]);
  });

  it('reads the host with bash builtins only: its guard starts no process', () => {
    const guard = String(pruneReleasesCommand(id(1), 5).unless) + '\n' + String(releaseHistoryCommand(id(1)).unless);
    // No command substitution, subshell or pipe (arithmetic $(( )) is no fork)…
    expect(guard).not.toMatch(/\$\((?!\()|`|[^|]\|[^|]|^\s*\(/m);
    // …and with nothing on PATH, the guards still run without an error: every command is a builtin.
    const host = new AppHost({ releases: [1], history: [1], current: 1 });
    const traced = spawnSync('bash', ['-c', `PATH=/nonexistent; ${guard.replaceAll(APP_ROOT, host.root)}`], { encoding: 'utf8' });
    expect(traced.stderr).toBe('');
    expect(traced.status).toBe(0);
  });
});

describe("the history and prune commands in the engine's change script", () => {
  it('run there as planned: recorded, then pruned, and the script reaches its end', () => {
    const host = new AppHost({ releases: [1, 2, 3], history: [1, 2, 3], current: 3 });
    mkdirSync(host.dir(4));
    host.point(4);
    const changes: Change[] = [releaseHistoryCommand(id(4)), pruneReleasesCommand(id(4), 2)].map((resource) => ({
      phase: 'app',
      resource,
      action: 'create',
      reason: '',
    }));
    const script = buildChangeScript(changes, [], []);
    const result = spawnSync('bash', ['-c', script.replaceAll(APP_ROOT, host.root)], { encoding: 'utf8' });
    expect(result.stdout).toBe('@@done\n');
    expect(host.history().at(-1)).toBe(id(4));
    expect(host.releases()).toEqual([id(3), id(4)]);
  });
});

describe('the app phase', () => {
  it('records the release after switching `current`, then prunes to app.keep_releases', () => {
    const inventory = testInventory({ app: { source: EXAMPLE_APP_DIR, port: 8000, keepReleases: 7 } });
    const phase = appPhase(inventory, hostOf(inventory, 'app1'), testSecrets());
    const names = phase.resources.filter((r): r is CommandResource => r.kind === 'command').map((command) => command.name);
    expect(names.findIndex((name) => name.startsWith('release history ends with '))).toBeLessThan(names.indexOf('keep the newest 7 releases'));
  });
});
