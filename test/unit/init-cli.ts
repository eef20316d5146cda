import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Running the real `bin/infra` in tests, through a pseudo-terminal or piped.
 *
 * buildCli() builds dist/ first. Several such test files run in parallel: a build rewrites dist/ file by file, so one file's
 * build must never run while another file's `node bin/infra` is loading. Builds take a lock, and
 * a build of the same sources (same stamp) is skipped, so dist/ is written once per change.
 */

export const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = join(ROOT, 'bin/infra');

const CACHE = join(ROOT, 'node_modules/.cache/infra-cli-build');
const LOCK = join(CACHE, 'lock');
const STAMP = join(CACHE, 'stamp');

function sourcesStamp(): string {
  const hash = createHash('sha256');
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else hash.update(`${path} ${statSync(path).mtimeMs} ${statSync(path).size}\n`);
    }
  };
  visit(join(ROOT, 'src'));
  return hash.digest('hex');
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function buildCli(): void {
  mkdirSync(CACHE, { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock left by a killed run would block forever; a build takes well under a minute.
      const since = statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs;
      if (since !== undefined && Date.now() - since > 120_000) rmSync(LOCK, { recursive: true, force: true });
      sleep(200);
    }
  }
  try {
    const stamp = sourcesStamp();
    let built = '';
    try {
      built = readFileSync(STAMP, 'utf8');
    } catch {
      // No stamp yet: build.
    }
    if (built === stamp) return;
    // Type errors are the typecheck's to report (and may be in another engineer's unfinished
    // file); the bundler strips types without checking them, which is what these tests need.
    const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`scripts/build.mjs failed:\n${build.stdout}${build.stderr}`);
    writeFileSync(STAMP, stamp);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Escape sequences (colours, cursor moves) removed, to read what a terminal shows. */
export function plain(text: string): string {
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\u001b[()][A-Za-z0-9]/g, '');
}

export const KEY = { enter: '\r', down: '\u001b[B', space: ' ' };

/**
 * `infra ARGS` on a pseudo-terminal: util-linux `script` gives the command a pty (sized, since a
 * 0-column terminal breaks prompt rendering) and relays our writes as keystrokes. Answers are
 * sent only once the question has appeared, so the test waits on the program, not on timers.
 */
export class Terminal {
  private output = '';
  private seen = 0;
  private readonly exited: Promise<number>;
  private readonly child: ChildProcessWithoutNullStreams;

  /** `env` is the whole environment of the command (default: this process's). */
  constructor(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
    const command = `stty cols 120 rows 50; exec node ${quote(BIN)} ${args.map(quote).join(' ')}`;
    this.child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: options.cwd, env: options.env ?? process.env });
    this.child.stdout.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code ?? -1)));
  }

  /** Everything the program wrote, as the terminal showed it. */
  get text(): string {
    return plain(this.output);
  }

  get raw(): string {
    return this.output;
  }

  async waitFor(text: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.text.indexOf(text, this.seen);
      if (at >= 0) {
        this.seen = at + text.length;
        return;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)}; the terminal shows:\n${this.text.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Waits for the question, then types the keys (a short pause lets the prompt take input). */
  async answer(question: string, ...keys: string[]): Promise<void> {
    await this.waitFor(question);
    for (const key of keys) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      this.child.stdin.write(key);
    }
  }

  exitCode(): Promise<number> {
    return this.exited;
  }
}

function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
