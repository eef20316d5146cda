import { beforeAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '../../src/transport/ssh.js';
import { webPhase } from '../../src/roles/web.js';
import { type HostRotation, type Remote, type Remotes, rollHost } from '../../src/rotate/roll.js';
import { certificateFacts } from '../../src/rotate/plan.js';
import { describeCertificate, type IssuedCertificate } from '../../src/tls/index.js';
import { hostOf, testInventory } from './roles-fixture.js';
import { issueForWeb1, separateCa } from './tls-fixture.js';

/**
 * The roll of one web host against scripted hosts: each fake host answers by the kind of script it
 * is sent (drain, keep the pair, install, reload, handshake, restore, put back) and records it,
 * so a test reads as the sequence of steps the hosts saw.
 */
type Kind = 'drain' | 'ready' | 'backup' | 'install' | 'reload' | 'read' | 'restore' | 'discard';

function kindOf(script: string): Kind {
  if (script.includes('state drain')) return 'drain';
  if (script.includes('state ready')) return 'ready';
  if (script.includes('base64 -d')) return 'install';
  if (script.includes('cp -a')) return script.includes('.infra-restore') ? 'restore' : 'backup';
  if (script.includes('.infra-previous')) return 'discard';
  if (script.includes('systemctl reload')) return 'reload';
  if (script.includes('s_client')) return 'read';
  throw new Error(`unexpected script:\n${script}`);
}

const done: ExecResult = { code: 0, stdout: '@@done\n', stderr: '' };

class FakeHosts implements Remotes {
  readonly seen: string[] = [];
  /** The certificate the web host serves and holds: the old one until an install, back on a restore. */
  serving: string;
  /** Whether the web host holds `.infra-previous` copies: from the backup until they are discarded. */
  previousKept = false;
  private pending: string;
  constructor(
    private readonly old: string,
    private readonly next: string,
    private readonly answers: Partial<Record<Kind, (attempt: number, host: string) => ExecResult>> = {},
  ) {
    this.serving = old;
    this.pending = old;
  }
  async connectionTo(host: string): Promise<Remote> {
    return {
      run: async (script) => {
        const kind = kindOf(script);
        this.seen.push(`${host} ${kind}`);
        const attempt = this.seen.filter((line) => line === `${host} ${kind}`).length;
        const answer = this.answers[kind]?.(attempt, host);
        if (answer && answer.code !== 0) return answer;
        if (kind === 'backup') this.previousKept = true;
        if (kind === 'discard') this.previousKept = false;
        if (kind === 'install') this.pending = this.next;
        if (kind === 'restore') this.pending = this.old;
        if (kind === 'reload') this.serving = this.pending;
        if (kind === 'read') return answer ?? { code: 0, stdout: `${this.serving}@@deployed\n${this.pending}`, stderr: '' };
        return answer ?? done;
      },
    };
  }
}

const inventory = testInventory();
const web1 = hostOf(inventory, 'web1');
let old: IssuedCertificate;
let next: IssuedCertificate;
let rotation: HostRotation;

beforeAll(async () => {
  const ca = await separateCa();
  old = await issueForWeb1(ca);
  next = await issueForWeb1(ca);
  const tls = { certificateChain: next.certificatePem, key: next.key, caCertificate: ca.certificatePem };
  rotation = {
    host: 'web1',
    domain: inventory.domain,
    phase: webPhase(inventory, web1, { tls }),
    expected: { chain: next.certificatePem, facts: certificateFacts(describeCertificate(next.certificatePem)) },
    secrets: [next.key],
  };
});

const quick = { confirmAttempts: 3, confirmDelayMs: 1 };

/** The stand-in hosts, with every script run on them kept in order. */
function recordingScripts(hosts: Remotes): { recording: Remotes; scripts: string[] } {
  const scripts: string[] = [];
  const recording: Remotes = {
    connectionTo: async (host) => {
      const remote = await hosts.connectionTo(host);
      return { run: (script) => (scripts.push(script), remote.run(script)) };
    },
  };
  return { recording, scripts };
}

describe('rolling one web host', () => {
  it('drains it on both lb hosts, installs, reloads, confirms the new certificate, stores it, removes the previous pair, then puts it back', async () => {
    const hosts = new FakeHosts(old.certificatePem, next.certificatePem);
    const stored: string[] = [];
    await rollHost(hosts, rotation, { ...quick, store: async () => void stored.push(hosts.serving) });
    expect(hosts.seen).toEqual(['lb1 drain', 'lb2 drain', 'web1 backup', 'web1 install', 'web1 reload', 'web1 read', 'web1 discard', 'lb1 ready', 'lb2 ready']);
    expect(stored).toEqual([next.certificatePem]);
    expect(hosts.previousKept).toBe(false);
  });

  it('removes the previous key, certificate and CA copies, and a staged restore copy, only after the store', async () => {
    const hosts = new FakeHosts(old.certificatePem, next.certificatePem);
    const { recording, scripts } = recordingScripts(hosts);
    let keptAtStore: boolean | undefined;
    await rollHost(recording, rotation, { ...quick, store: async () => void (keptAtStore = hosts.previousKept) });
    expect(keptAtStore).toBe(true);
    const discard = scripts.find((script) => kindOf(script) === 'discard') ?? '';
    for (const file of ['www.foobar.com.key', 'www.foobar.com.crt', 'ca.crt']) {
      expect(discard).toContain(`/etc/ssl/infra/${file}.infra-previous`);
      expect(discard).toContain(`/etc/ssl/infra/${file}.infra-restore`);
    }
  });

  it('when the previous pair cannot be removed, still puts the host back, then fails naming the files to remove', async () => {
    const hosts = new FakeHosts(old.certificatePem, next.certificatePem, {
      discard: () => ({ code: 1, stdout: '', stderr: 'rm: cannot remove: Read-only file system' }),
    });
    const error = await rollHost(hosts, rotation, { ...quick, store: async () => undefined }).catch((caught: Error) => caught);
    expect(hosts.seen.slice(-3)).toEqual(['web1 discard', 'lb1 ready', 'lb2 ready']);
    expect(error?.message).toMatch(
      /^web1 serves the new certificate and is back in service, but remove the previous pair: exit 1: rm: cannot remove: Read-only file system; remove \/etc\/ssl\/infra\/www\.foobar\.com\.crt\.infra-previous, .*www\.foobar\.com\.key\.infra-previous.* by hand$/,
    );
    expect(hosts.serving).toBe(next.certificatePem);
  });

  it("installs the key 0600 and the certificate and CA through the engine's staged rename, with nginx -t, and never in clear", async () => {
    const hosts = new FakeHosts(old.certificatePem, next.certificatePem);
    const { recording, scripts } = recordingScripts(hosts);
    await rollHost(recording, rotation, { ...quick, store: async () => undefined });
    const install = scripts.find((script) => kindOf(script) === 'install') ?? '';
    expect(install).toContain('stage_file /etc/ssl/infra/www.foobar.com.key root:root 0600');
    expect(install).toContain('activate_file /etc/ssl/infra/www.foobar.com.crt');
    expect(install).toContain('activate_file /etc/ssl/infra/ca.crt');
    expect(install).toContain('nginx -t -q');
    // The node exporter's copy of the certificate's expiry follows the new certificate.
    expect(install).toContain('infra_tls_certificate_not_after_seconds');
    expect(scripts.join('\n')).not.toContain(next.key.reveal());
    const backup = scripts.find((script) => kindOf(script) === 'backup') ?? '';
    expect(backup).toContain('cp -a -- /etc/ssl/infra/www.foobar.com.key /etc/ssl/infra/www.foobar.com.key.infra-previous');
  });

  it('on a config nginx -t refuses, restores the previous pair, reloads it, puts the host back and says why', async () => {
    const invalid = { code: 3, stdout: '@@invalid nginx config\nnginx: [emerg] cannot load certificate key\n', stderr: '' };
    const hosts = new FakeHosts(old.certificatePem, next.certificatePem, { install: () => invalid });
    const { recording, scripts } = recordingScripts(hosts);
    let stored = false;
    const error = await rollHost(recording, rotation, { ...quick, store: async () => void (stored = true) }).catch((caught: Error) => caught);
    expect(error?.message).toBe(
      'install: validation failed, nothing activated: nginx config\nnginx: [emerg] cannot load certificate key\n' +
        'the previous certificate was restored; web1 is back in service',
    );
    expect(hosts.seen).toEqual([
      'lb1 drain',
      'lb2 drain',
      'web1 backup',
      'web1 install',
      'web1 restore',
      'web1 reload',
      'web1 discard',
      'lb1 ready',
      'lb2 ready',
    ]);
    expect(hosts.serving).toBe(old.certificatePem);
    expect(hosts.previousKept).toBe(false);
    expect(stored).toBe(false);
    // The expiry metric written from the new certificate is written again from the restored one.
    const restore = scripts.find((script) => kindOf(script) === 'restore') ?? '';
    expect(restore).toContain('infra_tls_certificate_not_after_seconds');
  });

  it('when the host still serves the old certificate after the reload, restores it and names both serials', async () => {
    const hosts = new FakeHosts(old.certificatePem, next.certificatePem, {
      read: () => ({ code: 0, stdout: `${old.certificatePem}@@deployed\n${next.certificatePem}`, stderr: '' }),
    });
    const error = await rollHost(hosts, rotation, { ...quick, store: async () => undefined }).catch((caught: Error) => caught);
    expect(error?.message).toContain(`confirm: after the reload it serves serial ${describeCertificate(old.certificatePem).serial}`);
    expect(error?.message).toContain(`not the new serial ${rotation.expected.facts.serial}`);
    expect(hosts.seen.filter((line) => line === 'web1 read')).toHaveLength(3);
    expect(hosts.seen.slice(-5)).toEqual(['web1 restore', 'web1 reload', 'web1 discard', 'lb1 ready', 'lb2 ready']);
  });

  it('waits for old workers to stop answering: a later handshake with the new certificate confirms', async () => {
    const hosts = new FakeHosts(old.certificatePem, next.certificatePem, {
      read: (attempt) =>
        attempt === 1
          ? { code: 0, stdout: `${old.certificatePem}@@deployed\n${next.certificatePem}`, stderr: '' }
          : { code: 0, stdout: `${next.certificatePem}@@deployed\n${next.certificatePem}`, stderr: '' },
    });
    await rollHost(hosts, rotation, { ...quick, store: async () => undefined });
    expect(hosts.seen.filter((line) => line === 'web1 read')).toHaveLength(2);
  });

  it('restores the host when storing the certificate in the state directory fails', async () => {
    const hosts = new FakeHosts(old.certificatePem, next.certificatePem);
    const error = await rollHost(hosts, rotation, {
      ...quick,
      store: async () => {
        throw new Error('EACCES: permission denied, open .infra/tls/web1.crt');
      },
    }).catch((caught: Error) => caught);
    expect(error?.message).toMatch(/^EACCES.*\nthe previous certificate was restored; web1 is back in service$/);
    expect(hosts.serving).toBe(old.certificatePem);
    // The store failed after the new pair was served: the previous one was still there to restore.
    expect(hosts.seen.slice(-6)).toEqual(['web1 read', 'web1 restore', 'web1 reload', 'web1 discard', 'lb1 ready', 'lb2 ready']);
  });

  it('leaves the host drained when even the restore fails, so no client reaches a broken nginx', async () => {
    const hosts = new FakeHosts(old.certificatePem, next.certificatePem, {
      reload: () => ({ code: 1, stdout: '@@fail reload nginx\nJob for nginx.service failed\n', stderr: '' }),
    });
    const error = await rollHost(hosts, rotation, { ...quick, store: async () => undefined }).catch((caught: Error) => caught);
    expect(error?.message).toContain('restoring the previous pair failed too: reload the previous pair: step failed: reload nginx');
    expect(error?.message).toContain('web1 is left drained on the lb hosts; its previous pair is in /etc/ssl/infra/www.foobar.com.crt.infra-previous');
    expect(hosts.seen.some((line) => line.endsWith('ready'))).toBe(false);
    expect(hosts.seen).not.toContain('web1 discard');
    expect(hosts.previousKept).toBe(true);
  });

  it('touches nothing on the web host when draining fails on an lb host, and puts it back on the others', async () => {
    const hosts = new FakeHosts(old.certificatePem, next.certificatePem, {
      drain: (_attempt, host) => (host === 'lb1' ? done : { code: 1, stdout: '', stderr: 'socat: No such file or directory' }),
    });
    const error = await rollHost(hosts, rotation, { ...quick, store: async () => undefined }).catch((caught: Error) => caught);
    expect(error?.message).toMatch(/^drain: draining the host failed on lb2: exit 1: socat: No such file or directory; nothing was installed$/);
    expect(hosts.seen.filter((line) => line.startsWith('web1'))).toEqual([]);
    expect(hosts.seen.filter((line) => line.endsWith('ready')).sort()).toEqual(['lb1 ready', 'lb2 ready']);
  });
});
