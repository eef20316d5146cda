#!/usr/bin/env node
// Measures infra on the lab (run `infra lab up` first, as root):
//   node bench/infra.mjs noop [runs]    median wall time of no-change provisions (after one converging run)
//   node bench/infra.mjs check [runs]   median wall time of `infra check` (after one converging run)
//   node bench/infra.mjs cold [runs]    median wall time of bare hosts → full stack (lab reset between runs)
// Prints each run and the median; also the CLI's own CPU time (user+sys) and peak memory.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const infra = [resolve(root, 'bin/infra')];
const inventory = resolve(root, 'lab/inventory.yaml');
const [mode = 'noop', runsText] = process.argv.slice(2);
const runs = Number(runsText ?? (mode === 'cold' ? 3 : 5));

function timed(args, okCodes = [0]) {
  // GNU time reports the child's CPU seconds and peak resident memory.
  const result = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, ...infra, ...args], { cwd: root, encoding: 'utf8' });
  const [wall, user, sys, maxKb] = result.stderr.trim().split('\n').pop().split(' ').map(Number);
  if (!okCodes.includes(result.status)) throw new Error(`infra ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return { wall, cpu: user + sys, maxMb: maxKb / 1024 };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const samples = [];
if (mode !== 'cold') timed(['provision', inventory, '--yes']);
for (let i = 0; i < runs; i += 1) {
  if (mode === 'cold') {
    const reset = spawnSync(process.execPath, [...infra, 'lab', 'reset'], { cwd: root, encoding: 'utf8' });
    if (reset.status !== 0) throw new Error(`lab reset failed: ${reset.stderr}`);
  }
  const sample = mode === 'check' ? timed(['check', inventory]) : timed(['provision', inventory, '--yes']);
  samples.push(sample);
  console.log(`${mode} run ${i + 1}: ${sample.wall.toFixed(2)} s wall, ${sample.cpu.toFixed(2)} s CPU, ${sample.maxMb.toFixed(0)} MB peak`);
}
console.log(
  `${mode}: median of ${runs}: ${median(samples.map((s) => s.wall)).toFixed(2)} s wall, ` +
    `${median(samples.map((s) => s.cpu)).toFixed(2)} s CPU, ${median(samples.map((s) => s.maxMb)).toFixed(0)} MB peak`,
);
