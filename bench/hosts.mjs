#!/usr/bin/env node
// What one host spends on infra's read of it, per role, on the converged lab (run `infra lab up`
// and provision first, as root):
//   node bench/hosts.mjs [runs]
// For each role: a no-change `provision --limit <role>`, timed; the machine's CPU over it less
// infra's own is what the role's hosts (and the kernel between them) spent, divided by their
// count. Beside it, the same hosts' cost of an SSH login that runs nothing (OpenSSH's client,
// whose own CPU is left out the same way), so the probe's share is the difference.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { labInventory, median, timed, timedInfra } from './lib.mjs';

const runs = Number(process.argv[2] ?? 5);
const inventory = parse(readFileSync(labInventory, 'utf8'));
const labDir = labInventory.replace(/\/inventory\.yaml$/, '');
const roles = ['lb', 'web', 'app', 'db'];
const hostsOf = (role) => Object.entries(inventory.hosts).filter(([, host]) => host.roles.includes(role));

/** Each of `addresses` logged into at once with OpenSSH, running `true`. */
function sshLogins(addresses) {
  const ssh = addresses.map((address) => `ssh -i ${labDir}/id_ed25519 -o BatchMode=yes -o UserKnownHostsFile=${labDir}/known_hosts root@${address} true &`);
  return timed('bash', ['-c', `${ssh.join('\n')}\nwait`]);
}

timedInfra(['provision', labInventory, '--yes']);
console.log(`host CPU per host (hosts and kernel, less the client's own), median of ${runs}:`);
console.log('role  hosts  no-change run  ssh login alone  the rest (probe, platform read)');
for (const role of roles) {
  const hosts = hostsOf(role);
  if (hosts.length === 0) continue;
  const perHost = (sample) => (sample.machineCpu - sample.cpu) / hosts.length;
  const provisions = [];
  const logins = [];
  for (let i = 0; i < runs; i += 1) {
    provisions.push(perHost(timedInfra(['provision', labInventory, '--yes', '--limit', role])));
    logins.push(perHost(sshLogins(hosts.map(([, host]) => host.address))));
  }
  const run = median(provisions);
  const login = median(logins);
  console.log(
    `${role.padEnd(5)} ${String(hosts.length).padEnd(6)} ${(run * 1000).toFixed(0).padStart(6)} ms      ${(login * 1000).toFixed(0).padStart(6)} ms         ${((run - login) * 1000).toFixed(0).padStart(6)} ms`,
  );
}
