// What every bench script shares: running the real CLI under GNU time, and medians.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '..');
export const infraBin = resolve(root, 'bin/infra');
export const labInventory = resolve(root, 'lab/inventory.yaml');

/**
 * Runs `command args` under GNU time: wall seconds, the command's own CPU seconds (user + sys)
 * and peak resident memory. Throws with the output when the exit code is not in `okCodes`.
 */
export function timed(command, args, { okCodes = [0], env = process.env, cwd = root } = {}) {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', command, ...args], { cwd, encoding: 'utf8', env, maxBuffer: 256 * 1024 * 1024 });
  const [wall, user, sys, maxKb] = result.stderr.trim().split('\n').pop().split(' ').map(Number);
  if (!okCodes.includes(result.status)) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  }
  return { wall, cpu: user + sys, maxMb: maxKb / 1024, stdout: result.stdout, status: result.status };
}

/** infra itself (`node bin/infra …`), timed. */
export function timedInfra(args, options) {
  return timed(process.execPath, [infraBin, ...args], options);
}

/** `infra lab …`, untimed; throws with its output when it fails. */
export function lab(args) {
  const result = spawnSync(process.execPath, [infraBin, 'lab', ...args], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`infra lab ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
