import { access, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { UserError } from '../../core/errors.js';
import { PACKAGE_ROOT } from '../../core/package-root.js';
import { formatIssue, ROLES } from '../../inventory/model.js';
import { colorsFor } from '../color.js';
import type { InitFlags } from '../init-flags.js';

interface InitOptions extends InitFlags {
  force?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Ctrl-C or a closed terminal in a prompt: nothing was written, and the exit code says interrupted. */
function isPromptExit(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError');
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .argument('[file]', 'the inventory file to write', 'inventory.yaml')
    .description('Write a first inventory: asks for the domain, hosts, VIP, database, firewall sources and TLS (or takes them as flags).')
    .option('--domain <name>', "the site's public name, e.g. www.example.com")
    .option('--host <name=address:roles>', 'a host, e.g. web1=10.0.0.21:web (roles comma-separated); repeat per host', collect)
    .option('--vip <address>', 'the address the lb hosts share (required with two or more lb hosts)')
    .option('--vip-prefix <n>', "prefix length of the hosts' subnet (default 24)")
    .option('--vip-interface <name>', "the lb hosts' network interface that holds the VIP (default eth0)")
    .option('--primary <host>', 'the db host that takes writes (default: the only db host)')
    .option('--replicas <hosts>', 'comma-separated replica hosts (default: every other db host)')
    .option('--admin-source <cidr>', 'an address or CIDR allowed to reach SSH; repeatable', collect)
    .option('--monitoring-source <cidr>', 'an address or CIDR allowed to scrape the exporters; repeatable (default: the admin sources)', collect)
    .option('--ssh-user <user>', 'SSH login user (default root)')
    .option('--identity-file <path>', 'SSH private key (default ~/.ssh/id_ed25519)')
    .option('--known-hosts <path>', 'known_hosts file for host key checks (default ~/.ssh/known_hosts)')
    .option('--sudo', 'the non-root user has passwordless sudo (the default for a non-root user)')
    .option('--sudo-password-env <name>', 'the non-root user needs a sudo password, read from this environment variable')
    .addOption(new Option('--tls <source>', 'certificates: ca (infra issues them, default) or files').choices(['ca', 'files']))
    .option('--cert-file <path>', 'with --tls files: the certificate (PEM)')
    .option('--key-file <path>', 'with --tls files: its private key (PEM)')
    .option('--chain-file <path>', 'with --tls files: the intermediate certificates (PEM)')
    .option('--app-source <dir>', "the application folder to deploy, relative to the inventory (default: infra's example app)")
    .option('--force', 'overwrite FILE if it exists (without a terminal, init never overwrites otherwise)')
    .addHelpText(
      'after',
      `
On a terminal, init asks for whatever the flags did not give. With --domain, --host, --admin-source,
--primary (when there is more than one db host) and --vip (with two or more lb hosts) it asks
nothing, so scripts can use it. The inventory is validated before it is written; an existing file
is replaced only after you confirm (or with --force). Roles: ${ROLES.join(', ')}.

Examples:
  $ infra init                                   # the wizard, writes inventory.yaml
  $ infra init site.yaml --domain www.example.com --vip 10.0.0.100 \\
      --host lb1=10.0.0.11:lb --host lb2=10.0.0.12:lb --host web1=10.0.0.21:web \\
      --host app1=10.0.0.31:app --host db1=10.0.0.41:db --host db2=10.0.0.42:db \\
      --primary db1 --admin-source 10.0.0.1/32`,
    )
    .action(async (file: string, options: InitOptions) => {
      try {
        process.exitCode = await init(file, options);
      } catch (error) {
        if (isPromptExit(error)) throw new UserError(`init cancelled: ${file} was not written`, 130);
        throw error;
      }
    });
}

async function init(file: string, options: InitOptions): Promise<number> {
  const [{ confirm }, { parseInventory }, { answersFromFlags, missingFlags }, { askAnswers }, { appSourceProblem, completeWithDefaults }, { renderInventory }] =
    await Promise.all([
      import('@inquirer/prompts'),
      import('../../inventory/load.js'),
      import('../init-flags.js'),
      import('../init-prompts.js'),
      import('../../inventory/init-answers.js'),
      import('../../inventory/init-render.js'),
    ]);
  const colors = colorsFor(process.stdout);
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const known = answersFromFlags(options);
  const missing = missingFlags(known);
  if (missing.length > 0 && !interactive) {
    throw new UserError(`no terminal to ask on; give the answers as flags: missing ${missing.join(', ')} (see infra init --help)`);
  }

  if (!options.force && (await exists(file))) {
    if (!interactive) throw new UserError(`${file} exists; init does not overwrite it without --force`);
    if (!(await confirm({ message: `${file} exists. Replace it?`, default: false }))) {
      process.stderr.write(`${file} left unchanged\n`);
      return 1;
    }
  }

  const answers = missing.length === 0 ? completeWithDefaults(known) : await askAnswers(known, dirname(file));
  // An inventory that validates but cannot render is no start: the app's folder must exist.
  const appProblem = appSourceProblem(answers.appSource, dirname(file));
  if (appProblem) {
    throw new UserError(
      `--app-source ${answers.appSource}: ${appProblem} (relative to the inventory's folder); give your app's folder, or leave the flag out for infra's example app; ${file} was not written`,
    );
  }
  const text = renderInventory(answers, file, await readFile(join(PACKAGE_ROOT, 'inventory.example.yaml'), 'utf8'));
  const result = parseInventory(text, file);
  if (!result.ok) {
    // The answers passed their own checks but not together (e.g. a web host with no app host).
    const issues = result.issues.map((issue) => `  ${formatIssue(issue, file)}`).join('\n');
    throw new UserError(`the answers do not make a valid inventory, so ${file} was not written:\n${issues}`);
  }
  await writeFile(file, text);
  process.stdout.write(
    `${colors.green('wrote')} ${file}: ${answers.hosts.length} hosts for ${answers.domain}\n` +
      `next: ${colors.bold(`infra graph ${file}`)}, then ${colors.bold(`infra provision ${file} --dry-run`)}\n`,
  );
  return 0;
}
