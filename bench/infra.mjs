#!/usr/bin/env node
// Measures infra on the lab (run `infra lab up` first, as root):
//   node bench/infra.mjs noop [runs]    median wall time of no-change provisions (after one converging run)
//   node bench/infra.mjs check [runs]   median wall time of `infra check` (after one converging run)
//   node bench/infra.mjs cold [runs]    median wall time of bare hosts → full stack (lab reset between runs)
//   node bench/infra.mjs help [runs]    median wall time of `infra --help` (Node start-up and the CLI's modules)
// Prints each run and the median; also the CLI's own CPU time (user+sys) and peak memory.
import { lab, labInventory, median, timedInfra } from './lib.mjs';

const [mode = 'noop', runsText] = process.argv.slice(2);
const runs = Number(runsText ?? (mode === 'cold' ? 3 : mode === 'help' ? 21 : 5));
const commands = {
  noop: ['provision', labInventory, '--yes'],
  check: ['check', labInventory],
  cold: ['provision', labInventory, '--yes'],
  help: ['--help'],
};
if (!commands[mode]) throw new Error(`unknown mode ${mode}: noop, check, cold or help`);

const samples = [];
if (mode === 'noop' || mode === 'check') timedInfra(commands.noop);
for (let i = 0; i < runs; i += 1) {
  if (mode === 'cold') lab(['reset']);
  const sample = timedInfra(commands[mode]);
  samples.push(sample);
  console.log(
    `${mode} run ${i + 1}: ${sample.wall.toFixed(2)} s wall, ${sample.cpu.toFixed(2)} s CPU, ${sample.maxMb.toFixed(0)} MB peak; ` +
      `hosts and kernel meanwhile ${(sample.machineCpu - sample.cpu).toFixed(2)} s CPU`,
  );
}
console.log(
  `${mode}: median of ${runs}: ${median(samples.map((s) => s.wall)).toFixed(2)} s wall, ` +
    `${median(samples.map((s) => s.cpu)).toFixed(2)} s CPU, ${median(samples.map((s) => s.maxMb)).toFixed(0)} MB peak; ` +
    `hosts and kernel meanwhile ${median(samples.map((s) => s.machineCpu - s.cpu)).toFixed(2)} s CPU`,
);
