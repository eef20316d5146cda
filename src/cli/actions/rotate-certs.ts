import { relative } from 'node:path';
import { UserError } from '../../core/errors.js';
import type { PhaseDesire } from '../../core/types.js';
import { Fleet } from '../../engine/fleet.js';
import { selectHosts } from '../../engine/select.js';
import { loadInventory } from '../../inventory/load.js';
import { formatIssue, type Host, type Inventory } from '../../inventory/model.js';
import { hostsWithRole } from '../../roles/topology.js';
import { webPhase } from '../../roles/web.js';
import { caRotationPaths, pendingCa, prepareNextCa, promoteNextCa } from '../../rotate/ca.js';
import { type RotationMaterial, newMaterial } from '../../rotate/material.js';
import {
  type CertificateFacts,
  type HostReport,
  type RotationCandidate,
  type RotationDecision,
  certificateFacts,
  planRotation,
  renderHostReport,
} from '../../rotate/plan.js';
import { rollHost, tlsFiles } from '../../rotate/roll.js';
import { parseCertificatesReading, readCertificatesScript } from '../../rotate/scripts.js';
import { caPaths } from '../../tls/ca.js';
import { type CertificateAuthority, describeCertificate, ensureCa, webTlsMaterial } from '../../tls/index.js';
import { readIfPresent } from '../../tls/state.js';
import { confirmed } from '../confirm.js';
import { Progress } from '../progress.js';
import { INFRA_VERSION, operator, saveRunReport } from '../../report/run-report.js';
import { jsonDocument } from '../../report/json.js';
import type { GlobalOptions } from '../options.js';

export interface RotateOptions {
  dryRun?: boolean;
  onlyExpiringWithin?: string;
  rotateCa?: boolean;
}

async function loadValidInventory(file: string): Promise<Inventory> {
  const loaded = await loadInventory(file);
  if (loaded.ok) return loaded.inventory;
  const shown = relative(process.cwd(), file) || file;
  throw new UserError(`${file} is not valid; nothing was changed:\n${loaded.issues.map((issue) => '  ' + formatIssue(issue, shown)).join('\n')}`);
}

function parseDays(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const days = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(days)) throw new UserError(`--only-expiring-within ${text}: expected a whole number of days`);
  return days;
}

/** `infra rotate-certs`; returns the exit code: 0 when every host to rotate was rotated (or a dry run), 1 otherwise. */
export async function rotateCerts(file: string, options: RotateOptions, globals: GlobalOptions): Promise<number> {
  const started = Date.now();
  const inventory = await loadValidInventory(file);
  const within = parseDays(options.onlyExpiringWithin);
  const webHosts = selectHosts(inventory, globals.limit).filter((host) => host.roles.includes('web'));
  if (webHosts.length === 0) throw new UserError('no web host is selected: rotate-certs replaces the certificate web hosts serve');
  if (inventory.tls.kind === 'ca' && (await readIfPresent(caPaths(inventory).certificateFile)) === undefined) {
    throw new UserError(`infra's CA does not exist yet (${caPaths(inventory).certificateFile}): run infra provision first`);
  }

  let issuer: CertificateAuthority | undefined;
  let nextCa: CertificateAuthority | undefined;
  if (options.rotateCa) {
    if (inventory.tls.kind !== 'ca') {
      throw new UserError("--rotate-ca replaces infra's CA, but this inventory serves its own files (tls.source: files)");
    }
    if ((globals.limit?.length ?? 0) > 0 || within !== undefined) {
      throw new UserError('--rotate-ca switches every web host to the new CA: it cannot be combined with --limit or --only-expiring-within');
    }
    nextCa = await pendingCa(inventory);
    if (!nextCa) return prepareCa(file, inventory, options, globals);
    issuer = nextCa;
  } else if (inventory.tls.kind === 'ca') {
    issuer = await ensureCa(inventory);
  }

  const now = new Date();
  const materials = await newMaterial(inventory, webHosts, issuer, now);
  const material = (host: Host) => materials.get(host.name) as RotationMaterial;
  const phases = new Map(webHosts.map((host) => [host.name, webPhase(inventory, host, { tls: material(host).tls })]));
  const progress = await Progress.create(!globals.json && !globals.quiet);
  const lbHosts = hostsWithRole(inventory, 'lb');
  progress.start(`connecting to ${webHosts.length} web and ${lbHosts.length} lb hosts`);
  const fleet = await Fleet.connect(inventory, [...webHosts, ...lbHosts], { forks: webHosts.length + lbHosts.length, acceptNewHostKeys: false, replaceHostKeys: new Set() });
  try {
    if (fleet.failures.size > 0) {
      const lines = [...fleet.failures.values()].map((failure) => `  ${failure.message}`);
      throw new UserError(`cannot reach every host the rotation needs; nothing was changed:\n${lines.join('\n')}`);
    }
    progress.update('reading the certificates the web hosts serve');
    const candidates = await Promise.all(
      webHosts.map(async (host): Promise<RotationCandidate> => {
        const chain = material(host).tls.certificateChain;
        const { certificateFile } = tlsFiles(phases.get(host.name) as PhaseDesire, chain);
        const failed = (why: string) => new UserError(`${host.name}: reading the certificate it serves failed (${why}); nothing was changed`);
        const result = await (await fleet.connectionTo(host.name))
          .run(readCertificatesScript(inventory.domain, certificateFile))
          .catch((error: Error) => Promise.reject(failed(error.message)));
        if (result.code !== 0) throw failed(`exit ${result.code}: ${result.stderr.trim()}`);
        return { host: host.name, current: parseCertificatesReading(result.stdout), nextChain: chain };
      }),
    );
    progress.stop();
    const decisions = planRotation(candidates, { onlyExpiringWithinDays: within, now });
    const reports = decisions.map((decision) => initialReport(decision, Boolean(options.dryRun), inventory));
    const toRotate = decisions.filter((decision) => decision.rotate);

    if (options.dryRun || toRotate.length === 0) {
      print(globals, { ok: true, dryRun: Boolean(options.dryRun), hosts: reports }, () =>
        `${reports.map(renderHostReport).join('\n')}\n\n${options.dryRun ? 'Dry run: nothing was changed.' : 'Nothing to rotate.'}\n`,
      );
      return 0;
    }
    // --quiet still shows what is about to rotate when it asks for confirmation.
    if (!globals.json && (!globals.quiet || !globals.yes)) process.stdout.write(`${reports.map(renderHostReport).join('\n')}\n\n`);
    if (!(await confirmed(globals, `Rotate the certificate of ${toRotate.length} web host(s), one at a time?`, 'rotate'))) return 1;

    let promoted = false;
    progress.start('rotating');
    for (const decision of toRotate) {
      const host = webHosts.find((candidate) => candidate.name === decision.host) as Host;
      const report = reports.find((candidate) => candidate.host === decision.host) as HostReport;
      const { tls, issued } = material(host);
      try {
        await rollHost(
          fleet,
          {
            host: host.name,
            domain: inventory.domain,
            phase: phases.get(host.name) as PhaseDesire,
            expected: { chain: tls.certificateChain, facts: decision.new },
            secrets: [...fleet.secrets, tls.key],
          },
          {
            // The state directory follows the hosts: a certificate is stored once its host serves
            // it, so a provision after a rotation (even one that stopped part way) changes nothing.
            // The new CA becomes current when the first host serves one of its certificates.
            store: async () => {
              if (nextCa && !promoted) {
                await promoteNextCa(inventory, nextCa);
                promoted = true;
              }
              if (issued) await webTlsMaterial(inventory, host, { replaceWith: issued });
            },
            onStep: (step) => progress.update(`${host.name}: ${step}`),
          },
        );
        report.status = 'rotated';
      } catch (error) {
        report.status = 'failed';
        report.error = error instanceof Error ? error.message : String(error);
        break;
      }
    }
    progress.stop();

    const ok = reports.every((report) => report.status === 'rotated' || report.status === 'skipped');
    const ca = nextCa ? caOutcome(inventory, nextCa, promoted) : undefined;
    print(globals, { ok, dryRun: false, hosts: reports, ...(ca ? { ca: ca.data } : {}) }, () => {
      if (globals.quiet) return reports.filter((report) => report.status === 'failed').map(renderHostReport).map((text) => `${text}\n`).join('');
      const counts = (['rotated', 'skipped', 'failed', 'not-reached'] as const)
        .map((status) => `${reports.filter((report) => report.status === status).length} ${status}`)
        .join(', ');
      const tail = ok ? '' : "\nThe run stopped at the failed host: its error says what it serves now. Run rotate-certs again once the cause is fixed.\n";
      return `${reports.map(renderHostReport).join('\n')}\n\n${counts}.\n${ca ? ca.text : ''}${tail}`;
    });
    await saveRunReport(inventory.stateDir, {
      command: 'rotate-certs',
      startedAt: new Date(started).toISOString(),
      seconds: (Date.now() - started) / 1000,
      ok,
      exitCode: ok ? 0 : 1,
      ...operator(),
      version: INFRA_VERSION,
      inventory: inventory.file,
      hosts: reports.map((report) => ({ host: report.host, status: report.status, changed: report.status === 'rotated' ? 1 : 0, error: report.error })),
      details: { hosts: reports, ...(ca ? { ca: ca.data } : {}) },
    });
    return ok ? 0 : 1;
  } finally {
    progress.stop();
    fleet.close();
  }
}

function initialReport(decision: RotationDecision, dryRun: boolean, inventory: Inventory): HostReport {
  // A dry run with infra's CA shows a certificate issued only to be checked: the run issues another.
  const next = dryRun && inventory.tls.kind === 'ca' ? { notAfter: decision.new.notAfter } : decision.new;
  const status = !decision.rotate ? 'skipped' : dryRun ? 'would-rotate' : 'not-reached';
  return { host: decision.host, status, reason: decision.reason, old: decision.old, new: next };
}

/** JSON with --json; otherwise the text, which --quiet drops when the run needs no attention. */
function print<T extends { ok: boolean }>(globals: GlobalOptions, data: T, text: () => string): void {
  if (globals.json) process.stdout.write(jsonDocument('rotate-certs', { ...data }));
  else if (!globals.quiet || !data.ok) process.stdout.write(text());
}

function caFacts(ca: CertificateAuthority): CertificateFacts {
  return certificateFacts(describeCertificate(ca.certificatePem));
}

/** The first run of --rotate-ca: a new CA set aside and the bundle of both; no host is touched. */
async function prepareCa(file: string, inventory: Inventory, options: RotateOptions, globals: GlobalOptions): Promise<number> {
  const paths = caRotationPaths(inventory);
  if (options.dryRun) {
    print(globals, { ok: true, dryRun: true, hosts: [], ca: { step: 'would-prepare', bundle: paths.bundleFile } }, () =>
      `Would make a new CA in ${paths.nextStateDir} and write the trust bundle ${paths.bundleFile} (current CA + new CA).\n` +
      'Dry run: nothing was changed.\n',
    );
    return 0;
  }
  const { current, next, bundleFile } = await prepareNextCa(inventory);
  print(globals, { ok: true, dryRun: false, hosts: [], ca: { step: 'prepared', bundle: bundleFile, current: caFacts(current), next: caFacts(next) } }, () =>
    `A new CA (serial ${caFacts(next).serial}) was made and kept aside in ${paths.nextStateDir}; no host was changed.\n` +
    `Trust bundle (current CA + new CA): ${bundleFile}\n\n` +
    "Give this bundle to every client that checks the site against infra's CA, then switch the web hosts with:\n" +
    `  infra rotate-certs ${file} --rotate-ca\n`,
  );
  return 0;
}

function caOutcome(inventory: Inventory, next: CertificateAuthority, promoted: boolean): { data: object; text: string } {
  const paths = caRotationPaths(inventory);
  if (!promoted) {
    return {
      data: { step: 'pending', bundle: paths.bundleFile, next: caFacts(next) },
      text: `infra's CA was not switched: no host serves a certificate of the new CA, which waits in ${paths.nextStateDir}.\n`,
    };
  }
  return {
    data: { step: 'switched', bundle: paths.bundleFile, previous: paths.previousFile, current: caFacts(next) },
    text:
      `infra's CA is now the new one (serial ${caFacts(next).serial}); the old CA is kept as ${paths.previousFile} ` +
      `and stays in ${paths.bundleFile} until the next --rotate-ca.\n`,
  };
}

