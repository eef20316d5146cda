#!/usr/bin/env node
// How infra's cost grows with the number of hosts (as root; grows the lab at each size and leaves
// it up at the last one):
//   node bench/scale.mjs [runs]
// At each size the lab is grown (`infra lab up` with the counts; hosts already there keep their
// state), the whole stack is provisioned (the new hosts converge), then `runs` no-change
// provisions and `runs` checks are timed on the converged stack. Printed: medians of wall time and
// of infra's own CPU, CPU per host, and what each host added since the previous size cost; and
// the CPU the hosts spent meanwhile (the machine's, less infra's: they share its cores).
// The extra hosts are mostly web and app hosts (nginx, the app): the lightest whole roles.
import { lab, labInventory, median, timedInfra } from './lib.mjs';

const runs = Number(process.argv[2] ?? 5);
const sizes = [
  { lb: 2, web: 2, app: 2, db: 2 },
  { lb: 2, web: 9, app: 9, db: 4 },
  { lb: 2, web: 20, app: 20, db: 6 },
];

let previous;
for (const counts of sizes) {
  const hosts = counts.lb + counts.web + counts.app + counts.db;
  lab(['up', ...Object.entries(counts).flatMap(([role, n]) => [`--${role}`, String(n)])]);
  const converge = timedInfra(['provision', labInventory, '--yes']);
  const measured = {};
  for (const [name, args, okCodes] of [
    ['no-change provision', ['provision', labInventory, '--yes'], [0]],
    ['check', ['check', labInventory], [0]],
  ]) {
    const samples = Array.from({ length: runs }, () => timedInfra(args, { okCodes }));
    measured[name] = {
      wall: median(samples.map((s) => s.wall)),
      cpu: median(samples.map((s) => s.cpu)),
      maxMb: median(samples.map((s) => s.maxMb)),
      hostsCpu: median(samples.map((s) => s.machineCpu - s.cpu)),
    };
  }
  console.log(`${String(hosts).padStart(2)} hosts (converging provision ${converge.wall.toFixed(0)} s):`);
  for (const [name, m] of Object.entries(measured)) {
    const perHost = ((m.cpu / hosts) * 1000).toFixed(0);
    const added = previous ? ` ; each added host +${(((m.cpu - previous.measured[name].cpu) / (hosts - previous.hosts)) * 1000).toFixed(1)} ms CPU` : '';
    console.log(
      `  ${name.padEnd(20)} median ${m.wall.toFixed(2)} s wall, ${m.cpu.toFixed(2)} s CPU (${perHost} ms per host${added}), ${m.maxMb.toFixed(0)} MB peak`,
    );
    console.log(
      `  ${''.padEnd(20)} the hosts and the kernel meanwhile: ${m.hostsCpu.toFixed(2)} s CPU (${((m.hostsCpu / hosts) * 1000).toFixed(0)} ms per host) of the 2 shared cores`,
    );
  }
  previous = { hosts, measured };
}
