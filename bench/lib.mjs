// What every bench script shares: running the real CLI under GNU time, and medians.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '..');
export const infraBin = resolve(root, 'bin/infra');
export const labInventory = resolve(root, 'lab/inventory.yaml');

/**
 * CPU seconds the whole machine has spent busy since boot (every core: user, nice, system, irq,
 * softirq), from /proc/stat: the lab's hosts share this machine's cores with infra, so the
 * difference across a run, less infra's own CPU, is what the hosts (and the kernel between them)
 * spent on it.
 */
export function machineCpuSeconds() {
  const [, user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq) / 100;
}

/**
 * Runs `command args` under GNU time: wall seconds, the command's own CPU seconds (user + sys),
 * peak resident memory, and the machine's CPU seconds over the run (see machineCpuSeconds).
 * Throws with the output when the exit code is not in `okCodes`.
 */
export function timed(command, args, { okCodes = [0], env = process.env, cwd = root } = {}) {
  const machineBefore = machineCpuSeconds();
  const result = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', command, ...args], { cwd, encoding: 'utf8', env, maxBuffer: 256 * 1024 * 1024 });
  const machineCpu = machineCpuSeconds() - machineBefore;
  const [wall, user, sys, maxKb] = result.stderr.trim().split('\n').pop().split(' ').map(Number);
  if (!okCodes.includes(result.status)) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  }
  return { wall, cpu: user + sys, user, sys, maxMb: maxKb / 1024, machineCpu, stdout: result.stdout, status: result.status };
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
