#!/usr/bin/env node
// How `infra check` grows with the number of hosts (as root; brings the lab up at each size and
// leaves it up at the last one):
//   node bench/scale.mjs [runs]
// Each size is measured on bare lab hosts, so every host reports drift (exit 2): what is measured
// is the read of every host (connect, one probe each, plan, runtime checks), not a converged stack.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const infra = resolve(root, 'bin/infra');
const runs = Number(process.argv[2] ?? 3);
const sizes = [
  { lb: 2, web: 2, app: 2, db: 2 },
  { lb: 2, web: 5, app: 5, db: 4 },
  { lb: 2, web: 8, app: 8, db: 6 },
];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

for (const counts of sizes) {
  const total = counts.lb + counts.web + counts.app + counts.db;
  const flags = Object.entries(counts).flatMap(([role, n]) => [`--${role}`, String(n)]);
  const up = spawnSync(process.execPath, [infra, 'lab', 'up', ...flags], { cwd: root, encoding: 'utf8' });
  if (up.status !== 0) throw new Error(`lab up ${flags.join(' ')} failed: ${up.stdout}${up.stderr}`);
  const samples = [];
  for (let i = 0; i < runs; i += 1) {
    const result = spawnSync('/usr/bin/time', ['-f', '%e %U %S', process.execPath, infra, 'check', 'lab/inventory.yaml'], { cwd: root, encoding: 'utf8' });
    if (result.status !== 0 && result.status !== 2) throw new Error(`check exited ${result.status}: ${result.stdout}${result.stderr}`);
    const [wall, user, sys] = result.stderr.trim().split('\n').pop().split(' ').map(Number);
    samples.push({ wall, cpu: user + sys });
  }
  const wall = median(samples.map((s) => s.wall));
  const cpu = median(samples.map((s) => s.cpu));
  console.log(`${String(total).padStart(2)} hosts: check median ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} s CPU, ${((cpu / total) * 1000).toFixed(0)} ms CPU per host`);
}
