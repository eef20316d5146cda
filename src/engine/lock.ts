import { hostname, userInfo } from 'node:os';
import { UserError } from '../core/errors.js';
import { quoteWord } from '../core/shell.js';
import { mapWithLimit } from '../transport/pool.js';
import type { HeldCommand } from '../transport/ssh.js';
import type { Fleet } from './fleet.js';

/**
 * One run at a time on a host. A run that changes hosts holds a lock on each, from before it reads
 * them until it is done: an flock(1) held by a shell that lives in the run's own SSH connection. A
 * killed run's connection closes, the shell ends and the kernel drops the flock, so a dead run
 * never blocks the next one; the holder line it wrote stays, which is how the next run knows a
 * run was cut short there and says so. The file is in /run (root's alone, emptied at boot).
 */
export const LOCK_FILE = '/run/infra.lock';
export const HELD = 'infra-lock: held';
export const RELEASE = 'release';
const BUSY_EXIT = 3;

/** Who holds a lock, as the next run shows it: user@controller, process, command and since when. */
export function holderLine(command: string, now: Date = new Date()): string {
  return `${userInfo().username}@${hostname()} (pid ${process.pid}, infra ${command}) since ${now.toISOString()}`;
}

/**
 * The shell that takes the lock and keeps it until the controller writes the release line (then
 * empties the holder line) or the connection ends (then the line stays, telling of a cut run).
 */
export function lockScript(holder: string, waitSeconds: number, lockFile: string = LOCK_FILE): string {
  const file = quoteWord(lockFile);
  return [
    `exec 9<>${file} || exit 1`,
    `if ! flock ${waitSeconds > 0 ? `-w ${waitSeconds}` : '-n'} 9; then cat ${file}; exit ${BUSY_EXIT}; fi`,
    `left=$(cat ${file})`,
    `[ -n "$left" ] && printf 'left: %s\\n' "$left"`,
    `printf '%s\\n' ${quoteWord(holder.replace(/\n/g, ' '))} > ${file}`,
    `printf '%s\\n' ${quoteWord(HELD)}`,
    `read -r answer || true`,
    `[ "$answer" = ${RELEASE} ] && : > ${file}`,
    'exit 0',
  ].join('\n');
}

/** What a host said to the lock script. */
export type LockOutcome =
  { host: string; state: 'held'; leftBy?: string } | { host: string; state: 'busy'; holder: string } | { host: string; state: 'failed'; message: string };

export function lockOutcome(host: string, command: Pick<HeldCommand, 'held' | 'output' | 'code'>): LockOutcome {
  const output = command.output.trim();
  if (command.held) {
    const left = /^left: (.*)$/m.exec(output)?.[1];
    return left ? { host, state: 'held', leftBy: left } : { host, state: 'held' };
  }
  if (command.code === BUSY_EXIT) return { host, state: 'busy', holder: output || 'another run (it left no name)' };
  return { host, state: 'failed', message: `could not take the lock ${LOCK_FILE} (exit ${command.code}): ${output}` };
}

/** What a run says of a host whose lock it took over from a run that was cut short. */
export function takeoverWarning(host: string, leftBy: string): string {
  return `infra: warning: ${host}: a run was cut short while it held the lock (${leftBy}); its lock is taken over`;
}

export interface FleetLock {
  /** Hosts where a run was cut short while it held the lock (its holder line was still there). */
  takenOver: { host: string; leftBy: string }[];
  release(): Promise<void>;
}

/**
 * Takes the lock on every named host, in parallel, waiting up to `waitSeconds` for a run that
 * holds one. When any host refuses, the locks taken are given back and the run stops with the
 * holders named, before anything changed.
 */
export async function lockFleet(fleet: Fleet, hosts: readonly string[], options: { command: string; waitSeconds: number; forks: number }): Promise<FleetLock> {
  const holder = holderLine(options.command);
  const script = lockScript(holder, options.waitSeconds);
  const reachable = hosts.filter((host) => fleet.connections.has(host));
  const results = await mapWithLimit(reachable, options.forks, async (host) => {
    const command = await fleet.connections.get(host)!.hold(script, HELD, RELEASE);
    return { command, outcome: lockOutcome(host, command) };
  });
  const held = results.flatMap((result) => (result.status === 'fulfilled' && result.value.command.held ? [result.value.command] : []));
  const release = async (): Promise<void> => {
    await Promise.all(held.map((command) => command.release()));
  };
  const refusals = results.flatMap((result, index) => {
    if (result.status === 'rejected') return [`${reachable[index]}: ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`];
    const outcome = result.value.outcome;
    if (outcome.state === 'busy') return [`${outcome.host}: locked by ${outcome.holder}`];
    if (outcome.state === 'failed') return [`${outcome.host}: ${outcome.message}`];
    return [];
  });
  if (refusals.length > 0) {
    await release();
    const waited = options.waitSeconds > 0 ? ` after waiting ${options.waitSeconds} s` : '';
    throw new UserError(
      `another infra run holds the lock on ${refusals.length === 1 ? 'a host' : `${refusals.length} hosts`}${waited}; nothing was changed:\n` +
        refusals.map((line) => `  ${line}`).join('\n') +
        `\nRun again once it is done, or pass --wait-lock SECONDS to wait for it.`,
    );
  }
  const takenOver = results.flatMap((result) =>
    result.status === 'fulfilled' && result.value.outcome.state === 'held' && result.value.outcome.leftBy
      ? [{ host: result.value.outcome.host, leftBy: result.value.outcome.leftBy }]
      : [],
  );
  return { takenOver, release };
}

/** `--wait-lock N`: seconds to wait for another run's lock; 0 (refuse at once) when not given. */
export function parseWaitLock(text: string | undefined): number {
  if (text === undefined) return 0;
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds < 0) throw new UserError(`--wait-lock ${text}: expected a whole number of seconds (0 or more)`);
  return seconds;
}
