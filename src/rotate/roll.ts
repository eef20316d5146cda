import { buildChangeScript, buildHandlerScript, scriptFailure } from '../apply/scripts.js';
import { redact, type Secret } from '../core/secret.js';
import type { Change, CommandResource, FileResource, Handler, PhaseDesire, RollingHandlers } from '../core/types.js';
import { CERTIFICATE_METRICS_COMMAND, ROTATION_PREVIOUS_SUFFIX } from '../roles/web.js';
import type { ExecResult } from '../transport/ssh.js';
import { type CertificateFacts, servedMismatch } from './plan.js';
import { backupScript, discardPreviousScript, parseCertificatesReading, readCertificatesScript, restoreScript } from './scripts.js';

/** What the roll needs of a connection: running shell text as root (HostConnection does). */
export interface Remote {
  run(script: string): Promise<ExecResult>;
}

/** The hosts of the run by name (Fleet does: it opens an lb host's connection on first use). */
export interface Remotes {
  connectionTo(host: string): Promise<Remote>;
}

export type RollStep = 'drain' | 'install' | 'reload' | 'confirm' | 'store' | 'discard' | 'restore' | 'ready';

/** One web host's rotation, from the web role rendered with the new certificate. */
export interface HostRotation {
  host: string;
  domain: string;
  /** The web phase for the host with the new TLS material: its TLS files, nginx reload, validators, drain. */
  phase: PhaseDesire;
  /** The chain the host must serve afterwards, and its serial and fingerprint. */
  expected: { chain: string; facts: CertificateFacts };
  /** Values never to show: the new key, sudo passwords. */
  secrets: Secret[];
}

export interface RollOptions {
  /** Called once the host serves the new certificate, before it goes back into service. */
  store: () => Promise<void>;
  onStep?: (step: RollStep) => void;
  /** Handshakes tried after the reload (old workers may still answer one for a moment), and the pause between. */
  confirmAttempts?: number;
  confirmDelayMs?: number;
}

/** The web phase's TLS files (certificate, key, and infra's CA when it issued them) with the nginx reload they notify. */
export function tlsFiles(phase: PhaseDesire, chain: string): { certificateFile: string; files: FileResource[]; reload: Handler } {
  const certificate = phase.resources.find((r): r is FileResource => r.kind === 'file' && r.content === chain);
  const reload = phase.handlers.find((handler) => certificate?.notify?.includes(handler.id));
  if (!certificate || !reload) throw new Error('the web phase has no file serving the new certificate, or it reloads nothing');
  const directory = certificate.path.replace(/\/[^/]+$/, '/');
  // The key and the CA certificate sit beside the certificate, in the TLS directory; nothing else of
  // the phase changes.
  const files = phase.resources.filter((r): r is FileResource => r.kind === 'file' && r.path.startsWith(directory));
  return { certificateFile: certificate.path, files, reload };
}

/**
 * Rotates one web host: drains it on every lb host, keeps the current pair as `.infra-previous`,
 * installs the new files with the engine's change script (staged, renamed, `nginx -t`), reloads
 * nginx with its handler (new workers, health check), confirms by a handshake on the host that the
 * new certificate is served, stores it (`options.store`), removes the `.infra-previous` copies (the
 * old key is no longer needed to restore, and must not outlive its certificate), and puts the host
 * back. On a failure up to the store, the previous pair is restored and reloaded, its copies
 * removed, and the host put back; if even the restore fails, the host stays drained so that no
 * client reaches it, and the copies stay for whoever restores it by hand.
 */
export async function rollHost(remotes: Remotes, rotation: HostRotation, options: RollOptions): Promise<void> {
  const { certificateFile, files, reload } = tlsFiles(rotation.phase, rotation.expected.chain);
  const rolling = rotation.phase.rolling;
  if (!rolling) throw new Error(`the web phase of ${rotation.host} has no lb hosts to drain it on`);
  const paths = files.map((file) => file.path);
  const step = (name: RollStep) => options.onStep?.(name);
  const web = await remotes.connectionTo(rotation.host);
  const run = (script: string, what: string) => runChecked(web, script, rotation.secrets, what);
  /** Removes the `.infra-previous` copies; undefined when done, else what is left and why. */
  const discardPrevious = async (): Promise<string | undefined> => {
    try {
      await run(discardPreviousScript(paths), 'remove the previous pair');
      return undefined;
    } catch (error) {
      return `${messageOf(error)}; remove ${paths.map((p) => p + ROTATION_PREVIOUS_SUFFIX).join(', ')} by hand`;
    }
  };

  step('drain');
  try {
    await onPeers(remotes, rolling, 'before');
  } catch (error) {
    await onPeers(remotes, rolling, 'after').catch(() => undefined);
    throw new Error(`drain: ${messageOf(error)}; nothing was installed`);
  }

  const metrics = rotation.phase.resources.filter((r): r is CommandResource => r.kind === 'command' && r.name === CERTIFICATE_METRICS_COMMAND);
  let installing = false;
  try {
    await run(backupScript(paths), 'keep the previous pair');
    installing = true;
    step('install');
    // The certificate's expiry for the node exporter follows the files (its guard runs after them).
    const changes: Change[] = [...files, ...metrics].map((resource) => ({
      phase: rotation.phase.phase,
      resource,
      action: 'update',
      reason: 'certificate rotation',
    }));
    await run(buildChangeScript(changes, [reload.id], rotation.phase.validators), 'install');
    step('reload');
    await run(buildHandlerScript([reload], rotation.phase.validators), 'reload');
    step('confirm');
    await confirmServed(web, rotation, certificateFile, options);
    step('store');
    await options.store();
  } catch (error) {
    const cause = messageOf(error);
    let left: string | undefined;
    if (installing) {
      step('restore');
      try {
        // The expiry metric was written from the new certificate: written again from the restored
        // one (a metric left stale is check's to report, not a reason to call the restore failed).
        const metricScripts = metrics.map((command) => `{ ${command.script}; } || true`);
        await run(restoreScript(paths, metricScripts), 'restore');
        await run(buildHandlerScript([reload], rotation.phase.validators), 'reload the previous pair');
      } catch (restoreError) {
        throw new Error(
          `${cause}\nrestoring the previous pair failed too: ${messageOf(restoreError)}\n` +
            `${rotation.host} is left drained on the lb hosts; its previous pair is in ${paths.map((p) => p + ROTATION_PREVIOUS_SUFFIX).join(', ')}`,
        );
      }
      step('discard');
      left = await discardPrevious();
    }
    step('ready');
    const restored = installing ? 'the previous certificate was restored; ' : '';
    const leftLine = left ? `\n${left}` : '';
    try {
      await onPeers(remotes, rolling, 'after');
    } catch (readyError) {
      throw new Error(`${cause}\n${restored}${messageOf(readyError)}${leftLine}`);
    }
    throw new Error(`${cause}\n${restored}${rotation.host} is back in service${leftLine}`);
  }
  // The new pair is served and stored: nothing restores the previous one any more. A failed removal
  // does not keep the host out of service; the error names the files left.
  step('discard');
  const left = await discardPrevious();
  step('ready');
  await onPeers(remotes, rolling, 'after');
  if (left) throw new Error(`${rotation.host} serves the new certificate and is back in service, but ${left}`);
}

async function confirmServed(web: Remote, rotation: HostRotation, certificateFile: string, options: RollOptions): Promise<void> {
  const attempts = options.confirmAttempts ?? 20;
  let mismatch = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const result = await web.run(readCertificatesScript(rotation.domain, certificateFile));
    const found = servedMismatch(parseCertificatesReading(result.stdout), rotation.expected);
    if (found === undefined) return;
    mismatch = found;
    if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, options.confirmDelayMs ?? 250));
  }
  throw new Error(`confirm: after the reload ${mismatch}`);
}

/** Runs the drain (`before`) or put-back (`after`) script on every lb host at once. */
async function onPeers(remotes: Remotes, rolling: RollingHandlers, which: 'before' | 'after'): Promise<void> {
  const failures: string[] = [];
  await Promise.all(
    rolling.peers.map(async (peer) => {
      try {
        const result = await (await remotes.connectionTo(peer)).run(rolling[which]);
        if (result.code !== 0) failures.push(`on ${peer}: exit ${result.code}: ${(result.stderr || result.stdout).trim()}`);
      } catch (error) {
        failures.push(`on ${peer}: ${messageOf(error)}`);
      }
    }),
  );
  if (failures.length > 0) throw new Error(`${which === 'before' ? 'draining' : 'putting back'} the host failed ${failures.join('; ')}`);
}

/** Runs a script that ends in `@@done`; a failure names the step (`@@fail`/`@@invalid` markers) and shows its output, secrets redacted. */
async function runChecked(remote: Remote, script: string, secrets: readonly Secret[], what: string): Promise<void> {
  const failure = scriptFailure(await remote.run(script));
  if (failure !== undefined) throw new Error(`${what}: ${redact(failure, secrets)}`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
