import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Ora } from 'ora';
import type { LabProgress, LabRebuildResult, LabStatus, LabUpResult } from '../../lab/lab.js';
import type { LabCounts } from '../../lab/plan.js';
import { ROLE } from '../../inventory/model.js';
import { ROLE_PORTS } from '../../inventory/ports.js';
import type { RoleDefinition } from '../../roles/definition.js';
import { rolesFrontToBack } from '../../roles/registry.js';
import { jsonDocument } from '../../report/json.js';
import { DEFAULT_RELEASE, LAB_DB_ENGINES, LAB_DISTRO_NAMES, LAB_DISTROS, type LabDistro } from '../../lab/distro.js';
import type { DbEngineName } from '../../roles/db-engines.js';

/**
 * `infra lab up|down|status|reset|rebuild`: a local replica of the topology as real booted hosts
 * (systemd-nspawn) on a bridge. The work is in src/lab; this file is argv, progress and output.
 */

/**
 * `infra lab up | head` closes stdout early: without this, the EPIPE of the next progress line
 * would kill the process half-way through mounting and booting. The lab work carries on; only
 * the output is lost.
 */
let stdoutGuarded = false;
function ignoreClosedStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

/** A spinner on a terminal; plain lines when stdout is not a TTY (logs, CI, pipes). */
function progressReporter(ora: typeof import('ora').default): { onProgress: LabProgress; succeed(text: string): void; fail(): void } {
  ignoreClosedStdout();
  // A terminal that reports 0 columns (e.g. `script` without a size) sends ora's line clearing
  // into an endless loop: spin only on a real, sized terminal.
  const interactive = Boolean(process.stdout.isTTY) && (process.stdout.columns ?? 0) > 0;
  let spinner: Ora | undefined;
  let current = '';
  return {
    onProgress(step) {
      if (interactive) {
        if (spinner) spinner.succeed();
        spinner = ora({ text: step, stream: process.stdout, isEnabled: true }).start();
      } else {
        process.stdout.write(`- ${step}\n`);
      }
      current = step;
    },
    succeed(text) {
      if (spinner) {
        spinner.succeed();
        spinner = undefined;
      }
      process.stdout.write(`${text}\n`);
    },
    fail() {
      if (spinner) spinner.fail(`${current} (failed)`);
      spinner = undefined;
    },
  };
}

async function withProgress<T>(fn: (onProgress: LabProgress) => Promise<T>, summary: (r: T) => string): Promise<T> {
  // ora is loaded only when a lab command runs, so `infra --help` starts fast.
  const reporter = progressReporter((await import('ora')).default);
  try {
    const result = await fn(reporter.onProgress);
    reporter.succeed(summary(result));
    return result;
  } catch (err) {
    reporter.fail();
    throw err;
  }
}

/** The lab's code (mounts, nspawn, repo) is loaded only when a lab command runs, not for `--help`. */
function labApi(): Promise<typeof import('../../lab/lab.js')> {
  return import('../../lab/lab.js');
}

function parseCount({ name, lab }: RoleDefinition) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n > lab.maxCount) {
      throw new InvalidArgumentError(`--${name} takes a whole number from 0 to ${lab.maxCount}`);
    }
    return n;
  };
}

function parseChoice<T extends string>(option: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`${option} takes ${choices.join(' or ')}`);
    return value as T;
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatStatus(status: LabStatus): string {
  if (status.hosts.length === 0) return `no lab hosts (subnet ${status.subnet}); bring the lab up with: infra lab up\n`;
  const rows = status.hosts.map((h) => [h.name, h.address, h.roles.join(','), h.state, h.machine]);
  if (status.bastion) rows.push([status.bastion.name, status.bastion.address, '(jump host)', status.bastion.state, status.bastion.machine]);
  const header = ['HOST', 'ADDRESS', 'ROLES', 'STATE', 'MACHINE'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return (
    [
      line(header),
      ...rows.map(line),
      '',
      `${LAB_DISTROS[status.release.distro].title} (${status.release.distro}), db engine ${status.release.dbEngine}; subnet ${status.subnet}, VIP ${status.vip ?? '(none: fewer than two lb hosts)'}` +
        (status.bastion ? `; the inventory reaches the hosts through the bastion, which alone may reach their SSH` : ''),
    ].join('\n') + '\n'
  );
}

function upSummary(r: LabUpResult): string {
  const running = r.hosts.filter((h) => h.state === 'running').length;
  const parts = [`boot+ssh ${seconds(r.timings.bootMs)}`];
  if (r.timings.baseBuilt) parts.push(`base built in ${seconds(r.timings.baseMs)}`);
  if (r.timings.repoBuilt) parts.push(`repo built in ${seconds(r.timings.repoMs)}`);
  if (r.dbServer) parts.push(`${r.dbServer.package} ${r.dbServer.version} from ${r.dbServer.suite}`);
  return (
    `lab up: ${running}/${r.hosts.length} hosts running in ${seconds(r.timings.totalMs)} (${parts.join(', ')})\n` +
    formatStatus(r) +
    `inventory: ${r.output.inventory} (root) and ${r.output.inventorySudo} (ops + sudo password)` +
    r.hosts
      .filter((h) => h.roles.includes(ROLE.monitor))
      .map((h) => `\nPrometheus on ${h.name}, once provisioned: http://${h.address}:${ROLE_PORTS.prometheus}`)
      .join('')
  );
}

export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .description('a local lab: the topology as real booted Debian 12 or 13 hosts (systemd-nspawn) on a private bridge')
    .addHelpText(
      'after',
      `
The lab needs root and: apt-get install -y systemd-container debootstrap dpkg-dev
State (base image, apt repo, keys) lives in INFRA_LAB_DIR (default /var/lib/infra-lab);
the subnet is INFRA_LAB_SUBNET (default 10.77.0.0/24). ./lab/inventory.yaml is written by "up".
A second lab runs beside the first with its own INFRA_LAB_NAME (bridge <name>-br0, machines
<name>-*), INFRA_LAB_DIR and INFRA_LAB_SUBNET, from another directory.

Example:
  $ infra lab up && infra provision lab/inventory.yaml && infra lab down`,
    );

  const up = lab.command('up').description('build (once) the base image and apt repo, then boot the hosts and write ./lab/inventory.yaml');
  // One count option per role, in the order of the lab's host list.
  for (const role of rolesFrontToBack()) {
    const { countAlone, countHelp, defaultCount } = role.lab;
    const option = new Option(`--${role.name} ${countAlone === undefined ? '<n>' : '[n]'}`, countHelp).argParser(parseCount(role)).default(defaultCount);
    up.addOption(countAlone === undefined ? option : option.preset(String(countAlone)));
  }
  up.option(
    '--distro <release>',
    `the Debian release of every host: ${LAB_DISTRO_NAMES.join(' or ')}`,
    parseChoice('--distro', LAB_DISTRO_NAMES),
    DEFAULT_RELEASE.distro,
  );
  up.option(
    '--db-engine <engine>',
    `the db hosts' server: ${LAB_DB_ENGINES.join(' or ')} (mysql: Oracle's, from the Debian suite that ships it)`,
    parseChoice('--db-engine', LAB_DB_ENGINES),
    DEFAULT_RELEASE.dbEngine,
  );
  up.option('--bastion', 'also boot a jump host, bastion (.5): the inventory reaches every host through it, and their firewalls allow SSH from it only');
  up.addHelpText(
    'after',
    `
Idempotent: hosts already running are kept (same host keys); missing ones are booted.
The first run builds the base (debootstrap, about 1-2 min) and the repo (role packages);
each release has its own base, and each release and db engine its own repo, all kept.
Another release or engine than the running lab's starts every host bare.
Like the counts, --bastion says what the lab has: an "up" without it removes the lab's bastion
(and says so), and the inventory reaches the hosts directly again. "reset" keeps it.
Hosts provisioned before allow SSH from the controller only: provision once with the bastion
added to firewall.admin_sources, then with the bastion's inventory (docs/own-servers.md).

Examples:
  $ infra lab up                          # lb1 lb2 web1 web2 app1 app2 db1 db2 on 10.77.0.0/24
  $ infra lab up --web 3 --db 3           # more web and db hosts
  $ infra lab up --monitor                # and mon1: Prometheus and Alertmanager (.51)
  $ infra lab up --distro trixie --db-engine mysql   # Debian 13 hosts, MySQL on the db hosts
  $ INFRA_LAB_SUBNET=10.78.0.0/24 infra lab up
  $ infra lab up --lb 2 --web 18 --app 18 --db 10   # 48 hosts (web11+ at .111, app11+ at .151)
  $ infra lab up --bastion                # the same hosts, reached through bastion at 10.77.0.5
  $ INFRA_LAB_NAME=alab INFRA_LAB_DIR=/var/lib/infra-lab-b INFRA_LAB_SUBNET=10.78.0.0/24 infra lab up
  $ ssh -i lab/id_ed25519 -o UserKnownHostsFile=lab/known_hosts root@10.77.0.21`,
  );
  up.action(async ({ distro, dbEngine, bastion, ...counts }: LabCounts & { distro: LabDistro; dbEngine: DbEngineName; bastion?: boolean }) => {
    await withProgress(async (onProgress) => (await labApi()).labUp({ counts, distro, dbEngine, bastion: bastion === true, onProgress }), upSummary);
  });

  lab
    .command('down')
    .description('stop every lab host, unmount their overlays and delete the bridge (keeps the cache and keys)')
    .addHelpText(
      'after',
      `
Hosts power off cleanly (forced after 30 s). Nothing is left running or mounted. Idempotent.

Example:
  $ infra lab down`,
    )
    .action(async () => {
      await withProgress(
        async (onProgress) => (await labApi()).labDown({ onProgress }),
        () => 'lab down: no host running, no overlay mounted, bridge deleted',
      );
    });

  lab
    .command('status')
    .description('list the lab hosts: name, address, roles, running or stopped, and the VIP')
    .option('--json', 'print {subnet, vip, hosts:[{name,address,roles,state,machine}], bastion: {…} or null}')
    .addHelpText(
      'after',
      `
Examples:
  $ infra lab status
  $ infra lab status --json | jq -r '.hosts[] | select(.state=="running") | .address'`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const status = await (await labApi()).labStatus();
      const json = Boolean(opts.json ?? cmd.optsWithGlobals<{ json?: boolean }>().json);
      process.stdout.write(json ? jsonDocument('lab status', { ...status }) : formatStatus(status));
    });

  lab
    .command('reset')
    .description('put every lab host back to bare (empty overlay, same identity and host keys) and boot it again')
    .addHelpText(
      'after',
      `
Fast (no rebuild): used between test runs and benchmarks. known_hosts stays valid.
A lab with a bastion (lab up --bastion) keeps it, reset to bare too.

Example:
  $ infra lab reset && infra provision lab/inventory.yaml`,
    )
    .action(async () => {
      await withProgress(
        async (onProgress) => (await labApi()).labReset({ onProgress }),
        (r) => upSummary(r).replace(/^lab up/, 'lab reset'),
      );
    });

  lab
    .command('rebuild')
    .argument('<host>', 'the lab host to reinstall, e.g. web2')
    .description('reinstall one lab host from scratch: bare again, with new SSH host keys (as after a new disk)')
    .addHelpText(
      'after',
      `
For practising the return of a rebuilt host: ./lab/known_hosts keeps the host's old keys, so
infra refuses the host (host key mismatch) until it is named with --replace-host.

Example:
  $ infra lab rebuild web2 && infra provision lab/inventory.yaml --replace-host web2`,
    )
    .action(async (host: string) => {
      await withProgress(
        async (onProgress) => (await labApi()).labRebuild(host, { onProgress }),
        (r: LabRebuildResult) =>
          `lab rebuild: ${r.host.name} (${r.host.address}) is bare and ${r.host.state}, with new host keys:\n${r.fingerprints.map((f) => `  ${f}`).join('\n')}`,
      );
    });
}
