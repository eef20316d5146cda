import { Command, CommanderError } from 'commander';
import { UserError } from '../core/errors.js';
import { ROLES } from '../inventory/model.js';
import { INFRA_VERSION } from '../report/run-report.js';
import { jsonDocument } from '../report/json.js';
import { registerValidate } from './commands/validate.js';
import { registerLab } from './commands/lab.js';
import { registerProvision } from './commands/provision.js';
import { registerApply } from './commands/apply.js';
import { registerCheck } from './commands/check.js';
import { registerStatus } from './commands/status.js';
import { registerHistory } from './commands/history.js';
import { registerRender } from './commands/render.js';
import { registerInit } from './commands/init.js';
import { registerGraph } from './commands/graph.js';
import { registerCompletion } from './commands/completion.js';
import { registerDocs } from './commands/docs.js';
import { registerRotateCerts } from './commands/rotate-certs.js';
import { registerRollback } from './commands/rollback.js';
import { registerDb } from './commands/db.js';
import { saveSharedStates } from '../state/shared.js';

/** A repeated --limit adds up, like one comma-separated value; one value never takes the words after it. */
function collectLimit(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function buildProgram(): Command {
  const program = new Command('infra')
    .description(
      'Provision and keep a highly available web stack (HAProxy+keepalived VIP, nginx TLS, app, MySQL ' +
        'primary and replicas, ufw and monitoring on every host) over SSH from an inventory.',
    )
    .version(INFRA_VERSION, '-V, --version', "print infra's version")
    .option(
      '--limit <pattern>',
      `only these hosts: names, roles (${ROLES.join(', ')}), groups, globs, comma separated, as Ansible reads them: 'web1,db', 'web*', 'web:!web1', 'web:&dc1'`,
      collectLimit,
    )
    .option('--json', 'one JSON document on stdout, errors included, with a format_version (docs/json.md)')
    .option('-q, --quiet', 'print only what needs attention (failures, drift, refusals); nothing when all is well')
    .option('--verbose', 'show unchanged resources and every step run on hosts (secrets redacted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .exitOverride()
    .showHelpAfterError()
    // Each command's help lists the flags it shares with every command (--limit, --json…).
    .configureHelp({ showGlobalOptions: true });
  registerValidate(program);
  registerProvision(program);
  registerApply(program);
  registerCheck(program);
  registerStatus(program);
  registerHistory(program);
  registerRotateCerts(program);
  registerRollback(program);
  registerDb(program);
  registerRender(program);
  registerLab(program);
  registerInit(program);
  registerGraph(program);
  registerCompletion(program);
  registerDocs(program);
  return program;
}

/** The command named in argv (the first word a command of the program takes), for the JSON of an error. */
function commandOf(program: Command, argv: readonly string[]): string {
  const names = new Set(program.commands.flatMap((command) => [command.name(), ...command.aliases()]));
  return argv.slice(2).find((word) => names.has(word)) ?? 'infra';
}

/**
 * With --json, every outcome is one JSON document on stdout, errors too: a script reads stdout
 * and never has to parse the text meant for a person.
 */
function jsonError(
  program: Command,
  argv: readonly string[],
  exitCode: number,
  kind: 'usage' | 'error' | 'internal',
  message: string,
  details?: Record<string, unknown>,
): void {
  process.stdout.write(jsonDocument(commandOf(program, argv), { ok: false, exitCode, error: { kind, message, ...details } }));
}

/** Runs the CLI and returns its exit code; the one place where errors become exit codes. */
export async function main(argv: string[]): Promise<number> {
  // `infra … | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const program = buildProgram();
  const json = argv.slice(2, argv.includes('--') ? argv.indexOf('--') : undefined).includes('--json');
  try {
    try {
      await program.parseAsync(argv);
    } finally {
      // Whatever the outcome: a run that made a secret or a certificate and then failed must still share it.
      await saveSharedStates();
    }
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      if (json) jsonError(program, argv, 1, 'usage', err.message.replace(/^error: /, ''));
      return 1;
    }
    if (err instanceof UserError) {
      if (json) jsonError(program, argv, err.exitCode, 'error', err.message, err.details);
      else process.stderr.write(`infra: ${err.message}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    if (json) jsonError(program, argv, 1, 'internal', err instanceof Error ? err.message : String(err));
    process.stderr.write(`infra: unexpected error: ${message}\n`);
    return 1;
  }
}
