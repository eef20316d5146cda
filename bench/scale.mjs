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
//
// Then a model of wall time on real hosts, which do not share the controller's cores: infra is one
// Node process, so its CPU is spent one host after another, while the hosts log in and read in
// parallel. wall(N) = a + c·N + h, where a + c·N is infra's CPU fitted to the measured sizes
// (least squares) and h the slowest host's own part: a no-change run limited to one db host (the
// heaviest probe), its wall less infra's CPU. On the lab the hosts share 2 cores with infra, so
// the model's lab figure is the larger of that and all the CPU spent over 2 cores; printed beside
// the measured wall at each size, then the real-host figures at 10, 100 and 1,000 hosts.
import { lab, labInventory, median, timedInfra } from './lib.mjs';

const runs = Number(process.argv[2] ?? 5);
const sizes = [
  { lb: 2, web: 2, app: 2, db: 2 },
  { lb: 2, web: 9, app: 9, db: 4 },
  { lb: 2, web: 20, app: 20, db: 6 },
];

const CORES = 2;
const points = [];
let slowestHost;
let previous;
for (const counts of sizes) {
  const hosts = counts.lb + counts.web + counts.app + counts.db;
  lab(['up', ...Object.entries(counts).flatMap(([role, n]) => [`--${role}`, String(n)])]);
  const converge = timedInfra(['provision', labInventory, '--yes']);
  slowestHost ??= median(Array.from({ length: runs }, () => timedInfra(['provision', labInventory, '--yes', '--limit', 'db1'])).map((s) => s.wall - s.cpu));
  const measured = {};
  for (const [name, args, okCodes] of [
    ['no-change provision', ['provision', labInventory, '--yes'], [0]],
    ['check', ['check', labInventory], [0]],
  ]) {
    const samples = Array.from({ length: runs }, () => timedInfra(args, { okCodes }));
    measured[name] = {
      wall: median(samples.map((s) => s.wall)),
      cpu: median(samples.map((s) => s.cpu)),
      sys: median(samples.map((s) => s.sys)),
      maxMb: median(samples.map((s) => s.maxMb)),
      hostsCpu: median(samples.map((s) => s.machineCpu - s.cpu)),
    };
  }
  console.log(`${String(hosts).padStart(2)} hosts (converging provision ${converge.wall.toFixed(0)} s):`);
  for (const [name, m] of Object.entries(measured)) {
    const perHost = ((m.cpu / hosts) * 1000).toFixed(0);
    const addedMs = (key) => (((m[key] - previous.measured[name][key]) / (hosts - previous.hosts)) * 1000).toFixed(1);
    // The system part is the kernel's: on the lab a socket write also runs the host's side of the veth.
    const added = previous ? ` ; each added host +${addedMs('cpu')} ms CPU, ${addedMs('sys')} ms of it in the kernel` : '';
    console.log(
      `  ${name.padEnd(20)} median ${m.wall.toFixed(2)} s wall, ${m.cpu.toFixed(2)} s CPU (${perHost} ms per host${added}), ${m.maxMb.toFixed(0)} MB peak`,
    );
    console.log(
      `  ${''.padEnd(20)} the hosts and the kernel meanwhile: ${m.hostsCpu.toFixed(2)} s CPU (${((m.hostsCpu / hosts) * 1000).toFixed(0)} ms per host) of the 2 shared cores`,
    );
  }
  previous = { hosts, measured };
  points.push({ hosts, measured });
}

/** Least squares fit of y = a + c·x. */
function fitLine(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((sum, x) => sum + x, 0) / n;
  const my = ys.reduce((sum, y) => sum + y, 0) / n;
  const c = xs.reduce((sum, x, i) => sum + (x - mx) * (ys[i] - my), 0) / xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
  return { a: my - c * mx, c };
}

console.log(`\nmodel: the slowest host's own part h = ${slowestHost.toFixed(2)} s (a no-change run limited to db1: wall less infra's CPU)`);
for (const name of Object.keys(points[0].measured)) {
  const { a, c } = fitLine(
    points.map((p) => p.hosts),
    points.map((p) => p.measured[name].cpu),
  );
  console.log(`  ${name}: infra's CPU ≈ ${a.toFixed(2)} s + ${(c * 1000).toFixed(1)} ms per host`);
  for (const { hosts, measured } of points) {
    const m = measured[name];
    const modelled = Math.max(a + c * hosts + slowestHost, (m.cpu + m.hostsCpu) / CORES);
    console.log(`    lab, ${String(hosts).padStart(2)} hosts: modelled ${modelled.toFixed(2)} s, measured ${m.wall.toFixed(2)} s`);
  }
  for (const hosts of [10, 100, 1000]) {
    console.log(`    real hosts, ${String(hosts).padStart(4)}: ${(a + c * hosts + slowestHost).toFixed(2)} s`);
  }
}
