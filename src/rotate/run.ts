import { UserError } from '../core/errors.js';
import type { PassphrasePrompt } from '../transport/keys.js';
import type { PhaseDesire } from '../core/types.js';
import { Fleet } from '../engine/fleet.js';
import { lockFleet, type FleetLock } from '../engine/lock.js';
import { selectHosts } from '../engine/select.js';
import { ROLE, type Host, type Inventory } from '../inventory/model.js';
import { INFRA_VERSION, operator, saveRunReport } from '../report/run-report.js';
import { hostsWithRole } from '../roles/topology.js';
import { webPhase } from '../roles/web.js';
import { caPaths } from '../tls/ca.js';
import { type CertificateAuthority, describeCertificate, ensureCa, webTlsMaterial } from '../tls/index.js';
import { readIfPresent } from '../tls/state.js';
import { caRotationPaths, pendingCa, prepareNextCa, promoteNextCa } from './ca.js';
import { type RotationMaterial, newMaterial } from './material.js';
import { type CertificateFacts, type HostReport, type RotationCandidate, type RotationDecision, certificateFacts, planRotation } from './plan.js';
import { type RollStep, rollHost, tlsFiles } from './roll.js';
import { parseCertificatesReading, readCertificatesScript } from './scripts.js';

/**
 * `rotate-certs` as one run: select the web hosts → issue their new certificates (or the next CA)
 * → connect → read what each serves → decide → (confirm) → roll host by host → record. The CLI
 * turns flags into a request, answers `confirm`, shows the events and prints the outcome.
 */

export interface RotationRequest {
  /** --limit as given: the web hosts it selects are rotated. */
  limit?: readonly string[];
  onlyExpiringWithinDays?: number;
  /** --rotate-ca: the first run prepares the next CA, the second switches the web hosts to it. */
  rotateCa: boolean;
  dryRun: boolean;
  /** Seconds to wait for another run's lock on a host (0: refuse at once). */
  waitLockSeconds: number;
}

export type RotateEvent =
  /** Opening the connections to the web hosts and to the lb hosts that drain them. */
  | { type: 'connecting'; web: number; lb: number }
  | { type: 'reading' }
  /** A run cut short left its lock on this host: taken over (its holder line says whose it was). */
  | { type: 'lock-taken-over'; host: string; leftBy: string }
  /** Confirmed: the hosts are rolled one at a time. */
  | { type: 'rotating' }
  | { type: 'step'; host: string; step: RollStep };

export interface RotationHooks {
  onEvent?: (event: RotateEvent) => void;
  /** Asked once, when hosts are due and it is no dry run, before anything changes; false changes nothing. */
  confirm: (reports: readonly HostReport[], due: number) => Promise<boolean>;
  /** Asks for an encrypted key's passphrase (see FleetOptions). */
  askPassphrase?: PassphrasePrompt;
}

/** infra's CA after the first --rotate-ca run, as `--json` shows it. */
export type CaPreparation = { step: 'would-prepare'; bundle: string } | { step: 'prepared'; bundle: string; current: CertificateFacts; next: CertificateFacts };

/** infra's CA after the second --rotate-ca run, as `--json` and the run report show it. */
export type CaSwitch =
  { step: 'pending'; bundle: string; next: CertificateFacts } | { step: 'switched'; bundle: string; previous: string; current: CertificateFacts };

export type RotationOutcome =
  /** The first --rotate-ca run: the next CA made (or, in a dry run, only described); no host touched. */
  | { kind: 'ca-prepared'; dryRun: boolean; ca: CaPreparation }
  /** A dry run, or no host due: nothing changed. */
  | { kind: 'planned'; dryRun: boolean; hosts: HostReport[] }
  | { kind: 'declined' }
  /** The hosts due were rolled, up to the first failure; the run report is saved. */
  | { kind: 'rotated'; ok: boolean; hosts: HostReport[]; ca?: CaSwitch };

export async function rotateCertificates(inventory: Inventory, request: RotationRequest, hooks: RotationHooks): Promise<RotationOutcome> {
  const started = Date.now();
  const emit = hooks.onEvent ?? (() => {});
  const within = request.onlyExpiringWithinDays;
  const webHosts = selectHosts(inventory, request.limit).filter((host) => host.roles.includes(ROLE.web));
  if (webHosts.length === 0) throw new UserError('no web host is selected: rotate-certs replaces the certificate web hosts serve');
  if (inventory.tls.kind === 'ca' && (await readIfPresent(caPaths(inventory).certificateFile)) === undefined) {
    throw new UserError(`infra's CA does not exist yet (${caPaths(inventory).certificateFile}): run infra provision first`);
  }

  let issuer: CertificateAuthority | undefined;
  let nextCa: CertificateAuthority | undefined;
  if (request.rotateCa) {
    if (inventory.tls.kind !== 'ca') {
      throw new UserError("--rotate-ca replaces infra's CA, but this inventory serves its own files (tls.source: files)");
    }
    if ((request.limit?.length ?? 0) > 0 || within !== undefined) {
      throw new UserError('--rotate-ca switches every web host to the new CA: it cannot be combined with --limit or --only-expiring-within');
    }
    nextCa = await pendingCa(inventory);
    if (!nextCa) return prepareCa(inventory, request.dryRun);
    issuer = nextCa;
  } else if (inventory.tls.kind === 'ca') {
    issuer = await ensureCa(inventory);
  }

  const now = new Date();
  const materials = await newMaterial(inventory, webHosts, issuer, now);
  const material = (host: Host) => materials.get(host.name) as RotationMaterial;
  const phases = new Map(webHosts.map((host) => [host.name, webPhase(inventory, host, { tls: material(host).tls })]));
  const lbHosts = hostsWithRole(inventory, ROLE.lb);
  emit({ type: 'connecting', web: webHosts.length, lb: lbHosts.length });
  const fleet = await Fleet.connect(inventory, [...webHosts, ...lbHosts], {
    forks: webHosts.length + lbHosts.length,
    acceptNewHostKeys: false,
    replaceHostKeys: new Set(),
    ...(hooks.askPassphrase ? { askPassphrase: hooks.askPassphrase } : {}),
  });
  let lock: FleetLock | undefined;
  try {
    if (fleet.failures.size > 0) {
      const lines = [...fleet.failures.values()].map((failure) => `  ${failure.message}`);
      throw new UserError(`cannot reach every host the rotation needs; nothing was changed:\n${lines.join('\n')}`);
    }
    // Held from before the hosts are read: the rotation decides on what no other run changes.
    if (!request.dryRun) {
      lock = await lockFleet(
        fleet,
        [...webHosts, ...lbHosts].map((host) => host.name),
        { command: 'rotate-certs', waitSeconds: request.waitLockSeconds, forks: webHosts.length + lbHosts.length },
      );
      for (const { host, leftBy } of lock.takenOver) emit({ type: 'lock-taken-over', host, leftBy });
    }
    emit({ type: 'reading' });
    const candidates = await Promise.all(
      webHosts.map(async (host): Promise<RotationCandidate> => {
        const chain = material(host).tls.certificateChain;
        const { certificateFile } = tlsFiles(phases.get(host.name) as PhaseDesire, chain);
        const failed = (why: string) => new UserError(`${host.name}: reading the certificate it serves failed (${why}); nothing was changed`);
        const result = await (
          await fleet.connectionTo(host.name)
        )
          .run(readCertificatesScript(inventory.domain, certificateFile))
          .catch((error: Error) => Promise.reject(failed(error.message)));
        if (result.code !== 0) throw failed(`exit ${result.code}: ${result.stderr.trim()}`);
        return { host: host.name, current: parseCertificatesReading(result.stdout), nextChain: chain };
      }),
    );
    const decisions = planRotation(candidates, { onlyExpiringWithinDays: within, now });
    const reports = decisions.map((decision) => initialReport(decision, request.dryRun, inventory));
    const due = decisions.filter((decision) => decision.rotate);
    if (request.dryRun || due.length === 0) return { kind: 'planned', dryRun: request.dryRun, hosts: reports };
    if (!(await hooks.confirm(reports, due.length))) return { kind: 'declined' };

    let promoted = false;
    emit({ type: 'rotating' });
    for (const decision of due) {
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
            onStep: (step) => emit({ type: 'step', host: host.name, step }),
          },
        );
        report.status = 'rotated';
      } catch (error) {
        report.status = 'failed';
        report.error = error instanceof Error ? error.message : String(error);
        break;
      }
    }

    const ok = reports.every((report) => report.status === 'rotated' || report.status === 'skipped');
    const ca = nextCa ? caSwitchReport(inventory, nextCa, promoted) : undefined;
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
      details: { hosts: reports, ...(ca ? { ca } : {}) },
    });
    return { kind: 'rotated', ok, hosts: reports, ...(ca ? { ca } : {}) };
  } finally {
    await lock?.release();
    fleet.close();
  }
}

function initialReport(decision: RotationDecision, dryRun: boolean, inventory: Inventory): HostReport {
  // A dry run with infra's CA shows a certificate issued only to be checked: the run issues another.
  const next = dryRun && inventory.tls.kind === 'ca' ? { notAfter: decision.new.notAfter } : decision.new;
  const status = !decision.rotate ? 'skipped' : dryRun ? 'would-rotate' : 'not-reached';
  return { host: decision.host, status, reason: decision.reason, old: decision.old, new: next };
}

function caFacts(ca: CertificateAuthority): CertificateFacts {
  return certificateFacts(describeCertificate(ca.certificatePem));
}

/** The first run of --rotate-ca: a new CA set aside and the bundle of both; no host is touched. */
async function prepareCa(inventory: Inventory, dryRun: boolean): Promise<RotationOutcome> {
  if (dryRun) return { kind: 'ca-prepared', dryRun, ca: { step: 'would-prepare', bundle: caRotationPaths(inventory).bundleFile } };
  const { current, next, bundleFile } = await prepareNextCa(inventory);
  return { kind: 'ca-prepared', dryRun, ca: { step: 'prepared', bundle: bundleFile, current: caFacts(current), next: caFacts(next) } };
}

/** The second run of --rotate-ca: switched once a host serves a certificate of the new CA, else still pending. */
function caSwitchReport(inventory: Inventory, next: CertificateAuthority, promoted: boolean): CaSwitch {
  const paths = caRotationPaths(inventory);
  if (!promoted) return { step: 'pending', bundle: paths.bundleFile, next: caFacts(next) };
  return { step: 'switched', bundle: paths.bundleFile, previous: paths.previousFile, current: caFacts(next) };
}
