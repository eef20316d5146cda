#!/usr/bin/env node
// infra and the Ansible port of its stack (bench/ansible) side by side on the same lab hosts, as
// root, with the lab up. Runs alternate between the two tools, so both see the same machine load:
//   node bench/compare.mjs [cold runs, default 2] [no-change runs, default 5] [check runs, default 5]
//   cold       bare hosts → full stack: `infra lab reset` before every run of either tool
//   no-change  `infra provision` vs `ansible-playbook site.yml` on the converged stack
//   check      `infra check` vs `ansible-playbook site.yml --check --diff` on the converged stack
// Prints every run and, per scenario, the medians and the ratio Ansible time / infra time, with
// each tool's CPU seconds (user+sys, its child processes included) and peak memory (the largest
// process's resident set). Lab commands act on the lab the INFRA_LAB_* variables name, as always.
// After every cold Ansible run, `infra check` must find no drift: the two stacks are the same.
// A no-change pair in which either tool changed anything stops the comparison (issue 21).
// If ansible-playbook is missing, this installs Debian's package (apt-get install -y ansible).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, timed as timedRun } from './lib.mjs';

const root = resolve(import.meta.dirname, '..');
const ansibleDir = resolve(root, 'bench/ansible');
const infra = resolve(root, 'bin/infra');
const inventory = resolve(process.env.INFRA_INVENTORY ?? resolve(root, 'lab/inventory.yaml'));
const [coldRuns, noopRuns, checkRuns] = [2, 5, 5].map((fallback, index) => {
  const value = Number(process.argv[2 + index] ?? fallback);
  if (!Number.isInteger(value) || value < 0) fail(`run counts must be whole numbers (got ${process.argv[2 + index]})`);
  return value;
});

function fail(message) {
  console.error(`compare.mjs: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  return spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options });
}

function ensureAnsible() {
  if (run('sh', ['-c', 'command -v ansible-playbook']).status === 0) return;
  console.log('ansible-playbook is missing: apt-get install -y ansible');
  const install = run('apt-get', ['install', '-y', 'ansible'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (install.status !== 0) fail(`apt-get install -y ansible failed:\n${install.stdout}${install.stderr}`);
}

/** lib.mjs's timed run; a failure ends the comparison with what the command printed. */
function timed(label, command, args, options = {}) {
  try {
    return timedRun(command, args, options);
  } catch (error) {
    fail(`${label}: ${error.message}`);
  }
}

function infraRun(args, label, okCodes) {
  const sample = timed(label, process.execPath, [infra, ...args], { okCodes });
  // provision's summary ends with "N change(s) on M host(s)."; check prints no such line.
  const summary = /^(\d+) change\(s\) on \d+ host\(s\)\.$/m.exec(sample.stdout);
  if (summary) sample.changed = Number(summary[1]);
  return sample;
}

/**
 * A "no-change" pair times two runs that find nothing to do. If either tool changed anything, the
 * two stacks differ (typically a template of the port that no longer renders infra's bytes, so
 * each tool rewrites the other's files) and the figures are not no-change figures: refused, with
 * what changed.
 */
function requireNoChange(sample, tool) {
  if (sample.changed === undefined) fail(`${tool} (no change): its output does not say how many changes it made:\n${sample.stdout.slice(-4000)}`);
  if (sample.changed > 0) {
    fail(
      `${tool} changed ${sample.changed} thing(s) in a no-change run, so the pair is not a no-change pair ` +
        `(do infra and bench/ansible still write the same files? npx vitest run --project unit test/unit/ansible-parity.test.ts):\n` +
        sample.stdout.slice(-6000),
    );
  }
  return sample;
}

/**
 * An ansible-playbook run with its own SSH ControlMaster directory, closed afterwards: every run
 * opens its connections, as every infra run does, instead of reusing the previous run's masters.
 */
function ansibleRun(extraArgs, label) {
  const controlDir = mkdtempSync(join(tmpdir(), 'compare-ansible-cp-'));
  const env = { ...process.env, INFRA_INVENTORY: inventory, ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir, ANSIBLE_NOCOLOR: '1' };
  try {
    const sample = timed(label, 'ansible-playbook', ['site.yml', ...extraArgs], { cwd: ansibleDir, env });
    sample.changed = [...sample.stdout.matchAll(/ changed=(\d+) /g)].reduce((sum, match) => sum + Number(match[1]), 0);
    return sample;
  } finally {
    for (const socket of readdirSync(controlDir)) {
      run('ssh', ['-O', 'exit', '-o', `ControlPath=${join(controlDir, socket)}`, 'compare-ansible'], { stdio: 'ignore' });
    }
    rmSync(controlDir, { recursive: true, force: true });
  }
}

function labReset() {
  const reset = run(process.execPath, [infra, 'lab', 'reset']);
  if (reset.status !== 0) fail(`infra lab reset failed:\n${reset.stdout}${reset.stderr}`);
}

function describe(sample) {
  const changed = sample.changed === undefined ? '' : `, changed=${sample.changed}`;
  return `${sample.wall.toFixed(2)} s wall, ${sample.cpu.toFixed(2)} s CPU, ${sample.maxMb.toFixed(0)} MB peak${changed}`;
}

const results = [];

function scenario(name, runs, infraStep, ansibleStep, before = () => undefined) {
  if (runs === 0) return;
  const samples = { infra: [], ansible: [] };
  for (let i = 1; i <= runs; i += 1) {
    before();
    samples.infra.push(infraStep());
    console.log(`${name} ${i}/${runs} infra:   ${describe(samples.infra.at(-1))}`);
    before();
    samples.ansible.push(ansibleStep());
    console.log(`${name} ${i}/${runs} ansible: ${describe(samples.ansible.at(-1))}`);
  }
  results.push({ name, runs, samples });
}

ensureAnsible();
console.log(`inventory ${inventory}; lab ${process.env.INFRA_LAB_NAME ?? '(default)'} in ${process.env.INFRA_LAB_DIR ?? '/var/lib/infra-lab'}`);
// The certificates and generated secrets both tools deploy live in infra's state directory:
// `infra render` creates any that are missing without touching a host.
const renderDir = mkdtempSync(join(tmpdir(), 'compare-render-'));
const render = run(process.execPath, [infra, 'render', inventory, '--out', renderDir]);
rmSync(renderDir, { recursive: true, force: true });
if (render.status !== 0) fail(`infra render failed:\n${render.stdout}${render.stderr}`);

scenario(
  'cold',
  coldRuns,
  () => infraRun(['provision', inventory, '--yes'], 'infra provision (cold)'),
  () => {
    const sample = ansibleRun([], 'ansible-playbook site.yml (cold)');
    const verdict = run(process.execPath, [infra, 'check', inventory]);
    if (verdict.status !== 0) fail(`infra check after the cold Ansible run exited ${verdict.status} (0 = no drift):\n${verdict.stdout}${verdict.stderr}`);
    return sample;
  },
  labReset,
);
if (noopRuns > 0 || checkRuns > 0) {
  // The later scenarios need a converged stack, whatever ran before: infra's, then Ansible's run
  // on it (which must change nothing: a port that writes other bytes is caught here, before any
  // figure), then infra's again.
  infraRun(['provision', inventory, '--yes'], 'infra provision (converging)');
  if (noopRuns > 0) requireNoChange(ansibleRun([], "ansible-playbook site.yml (on infra's stack)"), 'ansible-playbook site.yml on the stack infra converged');
}
scenario(
  'no-change',
  noopRuns,
  () => requireNoChange(infraRun(['provision', inventory, '--yes'], 'infra provision (no change)'), 'infra provision'),
  () => requireNoChange(ansibleRun([], 'ansible-playbook site.yml (no change)'), 'ansible-playbook site.yml'),
);
scenario(
  'check',
  checkRuns,
  () => infraRun(['check', inventory], 'infra check'),
  () => ansibleRun(['--check', '--diff'], 'ansible-playbook site.yml --check --diff'),
);

console.log('\nscenario    runs  infra median (CPU, peak)        ansible median (CPU, peak)      ansible/infra');
for (const { name, runs, samples } of results) {
  const summary = (list) => ({
    wall: median(list.map((s) => s.wall)),
    cpu: median(list.map((s) => s.cpu)),
    maxMb: median(list.map((s) => s.maxMb)),
  });
  const [i, a] = [summary(samples.infra), summary(samples.ansible)];
  const cell = (s) => `${s.wall.toFixed(2)} s (${s.cpu.toFixed(2)} s, ${s.maxMb.toFixed(0)} MB)`.padEnd(32);
  console.log(`${name.padEnd(11)} ${String(runs).padStart(4)}  ${cell(i)}${cell(a)}${(a.wall / i.wall).toFixed(2)}×`);
}
const changedCheck = results
  .filter((r) => r.name === 'check')
  .flatMap((r) => r.samples.ansible)
  .filter((s) => s.changed > 0);
if (changedCheck.length > 0) {
  console.log(`\nnote: ${changedCheck.length} Ansible --check run(s) on the converged stack reported changes (changed= above).`);
}
