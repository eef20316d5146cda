import { UserError } from '../../core/errors.js';
import { loadRunInventory } from '../../engine/prepare.js';
import type { Inventory } from '../../inventory/model.js';
import { caRotationPaths } from '../../rotate/ca.js';
import { type HostReport, renderHostReport } from '../../rotate/plan.js';
import { type CaPreparation, type CaSwitch, type RotateEvent, rotateCertificates } from '../../rotate/run.js';
import { confirmed } from '../confirm.js';
import { Progress } from '../progress.js';
import { passphrasePrompt } from '../passphrase.js';
import { jsonDocument } from '../../report/json.js';
import type { GlobalOptions } from '../options.js';
import { parseWaitLock, takeoverWarning } from '../../engine/lock.js';
import { openSharedState } from '../../state/shared.js';

export interface RotateOptions {
  dryRun?: boolean;
  onlyExpiringWithin?: string;
  rotateCa?: boolean;
  waitLock?: string;
}

function parseDays(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const days = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(days)) throw new UserError(`--only-expiring-within ${text}: expected a whole number of days`);
  return days;
}

function showEvent(progress: Progress, event: RotateEvent): void {
  switch (event.type) {
    case 'connecting':
      progress.start(`connecting to ${event.web} web and ${event.lb} lb hosts`);
      break;
    case 'reading':
      progress.update('reading the certificates the web hosts serve');
      break;
    case 'rotating':
      progress.start('rotating');
      break;
    case 'step':
      progress.update(`${event.host}: ${event.step}`);
      break;
    case 'lock-taken-over':
      progress.stop();
      process.stderr.write(`${takeoverWarning(event.host, event.leftBy)}\n`);
      progress.start('reading the certificates the web hosts serve');
      break;
  }
}

/** `infra rotate-certs`; returns the exit code: 0 when every host to rotate was rotated (or a dry run), 1 otherwise. */
export async function rotateCerts(file: string, options: RotateOptions, globals: GlobalOptions): Promise<number> {
  const inventory = await loadRunInventory(file);
  await openSharedState(inventory);
  const request = {
    limit: globals.limit,
    onlyExpiringWithinDays: parseDays(options.onlyExpiringWithin),
    rotateCa: Boolean(options.rotateCa),
    dryRun: Boolean(options.dryRun),
    waitLockSeconds: parseWaitLock(options.waitLock),
  };
  const progress = await Progress.create(!globals.json && !globals.quiet);
  const askPassphrase = passphrasePrompt(progress);
  const outcome = await rotateCertificates(inventory, request, {
    ...(askPassphrase ? { askPassphrase } : {}),
    onEvent: (event) => showEvent(progress, event),
    confirm: async (reports, due) => {
      progress.stop();
      // --quiet still shows what is about to rotate when it asks for confirmation.
      if (!globals.json && (!globals.quiet || !globals.yes)) process.stdout.write(`${reports.map(renderHostReport).join('\n')}\n\n`);
      return confirmed(globals, `Rotate the certificate of ${due} web host(s), one at a time?`, 'rotate');
    },
  }).finally(() => progress.stop());

  switch (outcome.kind) {
    case 'ca-prepared':
      print(globals, { ok: true, dryRun: outcome.dryRun, hosts: [], ca: outcome.ca }, () => caPreparedText(file, inventory, outcome.ca));
      return 0;
    case 'planned': {
      const { hosts, dryRun } = outcome;
      print(
        globals,
        { ok: true, dryRun, hosts },
        () => `${hosts.map(renderHostReport).join('\n')}\n\n${dryRun ? 'Dry run: nothing was changed.' : 'Nothing to rotate.'}\n`,
      );
      return 0;
    }
    case 'declined':
      return 1;
    case 'rotated': {
      const { ok, hosts, ca } = outcome;
      print(globals, { ok, dryRun: false, hosts, ...(ca ? { ca } : {}) }, () => rotatedText(globals, ok, hosts, ca ? caSwitchText(inventory, ca) : ''));
      return ok ? 0 : 1;
    }
  }
}

/** JSON with --json; otherwise the text, which --quiet drops when the run needs no attention. */
function print<T extends { ok: boolean }>(globals: GlobalOptions, data: T, text: () => string): void {
  if (globals.json) process.stdout.write(jsonDocument('rotate-certs', { ...data }));
  else if (!globals.quiet || !data.ok) process.stdout.write(text());
}

function rotatedText(globals: GlobalOptions, ok: boolean, reports: readonly HostReport[], caText: string): string {
  if (globals.quiet)
    return reports
      .filter((report) => report.status === 'failed')
      .map(renderHostReport)
      .map((text) => `${text}\n`)
      .join('');
  const counts = (['rotated', 'skipped', 'failed', 'not-reached'] as const)
    .map((status) => `${reports.filter((report) => report.status === status).length} ${status}`)
    .join(', ');
  const tail = ok ? '' : '\nThe run stopped at the failed host: its error says what it serves now. Run rotate-certs again once the cause is fixed.\n';
  return `${reports.map(renderHostReport).join('\n')}\n\n${counts}.\n${caText}${tail}`;
}

/** The first run of --rotate-ca: what was (or would be) set aside, and what the operator does next. */
function caPreparedText(file: string, inventory: Inventory, ca: CaPreparation): string {
  const paths = caRotationPaths(inventory);
  if (ca.step === 'would-prepare') {
    return (
      `Would make a new CA in ${paths.nextStateDir} and write the trust bundle ${paths.bundleFile} (current CA + new CA).\n` + 'Dry run: nothing was changed.\n'
    );
  }
  return (
    `A new CA (serial ${ca.next.serial}) was made and kept aside in ${paths.nextStateDir}; no host was changed.\n` +
    `Trust bundle (current CA + new CA): ${ca.bundle}\n\n` +
    "Give this bundle to every client that checks the site against infra's CA, then switch the web hosts with:\n" +
    `  infra rotate-certs ${file} --rotate-ca\n`
  );
}

/** The second run of --rotate-ca: whether infra's CA is now the new one. */
function caSwitchText(inventory: Inventory, ca: CaSwitch): string {
  const paths = caRotationPaths(inventory);
  if (ca.step === 'switched') {
    return (
      `infra's CA is now the new one (serial ${ca.current.serial}); the old CA is kept as ${paths.previousFile} ` +
      `and stays in ${paths.bundleFile} until the next --rotate-ca.\n`
    );
  }
  return `infra's CA was not switched: no host serves a certificate of the new CA, which waits in ${paths.nextStateDir}.\n`;
}
