import { describe, expect, it, beforeAll } from 'vitest';
import { setHostNetwork } from '../../src/lab/lab.js';
import { LAB_INVENTORY, STOP_REPLICA, labHosts, labInventoryVariant, mustOnHost, onHost, runInfra, type LabHost, told, waitFor } from './helpers.js';

/**
 * `infra check` on real hosts. Starting point: the full stack provisioned by 30-stack.test.ts.
 * Each kind of drift is made by hand on a lab host, reported with its host and resource (exit 2),
 * repaired by provision, after which check is back to 0; check itself never writes.
 */
interface CheckJson {
  exitCode: number;
  hosts: { host: string; status: string; error?: string; drift: { phase: string; kind: string; subject: string; message: string; diff?: string }[] }[];
  fleet: { subject: string; message: string }[];
}

let hosts: LabHost[];
const host = (name: string): LabHost => hosts.find((h) => h.name === name) as LabHost;

async function checkJson(...extra: string[]): Promise<{ code: number; report: CheckJson; stdout: string; stderr: string }> {
  const result = await runInfra(['check', LAB_INVENTORY, '--json', ...extra]);
  try {
    return { code: result.code, report: JSON.parse(result.stdout) as CheckJson, stdout: result.stdout, stderr: result.stderr };
  } catch {
    throw new Error(`check printed no JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
}

async function repair(): Promise<void> {
  const result = await runInfra(['provision', LAB_INVENTORY, '--yes']);
  expect(result.code, told(result)).toBe(0);
}

function driftOf(report: CheckJson, hostName: string): string[] {
  return (report.hosts.find((h) => h.host === hostName)?.drift ?? []).map((d) => `${d.phase}: ${d.subject}: ${d.message}`);
}

async function waitForCheck(predicate: (report: CheckJson) => boolean, timeoutMs = 20_000): Promise<CheckJson> {
  const deadline = Date.now() + timeoutMs;
  let last: CheckJson | undefined;
  while (Date.now() < deadline) {
    last = (await checkJson()).report;
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`check never reported what was expected; last report:\n${JSON.stringify(last, null, 2)}`);
}

beforeAll(async () => {
  hosts = await labHosts();
});

describe('infra check', () => {
  it('says "no drift" with exit 0 right after provision, in text', async () => {
    const result = await runInfra(['check', LAB_INVENTORY]);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/^no drift \(/m);
    for (const h of hosts) expect(result.stdout).toMatch(new RegExp(`^${h.name}\\s+ok$`, 'm'));
  });

  it('never writes to a host: managed files and services are untouched by a check', async () => {
    const snapshot = (address: string) =>
      mustOnHost(
        address,
        'stat -c "%n %Y" /etc/default/prometheus-node-exporter /etc/ufw/user.rules; systemctl show -p ExecMainStartTimestampMonotonic prometheus-node-exporter ufw',
      );
    const before = await Promise.all(hosts.map((h) => snapshot(h.address)));
    await checkJson();
    const after = await Promise.all(hosts.map((h) => snapshot(h.address)));
    expect(after).toEqual(before);
  });

  it('reports files, modes, packages, services and firewall rules changed by hand, and provision repairs them', async () => {
    await mustOnHost(host('web1').address, "sed -i '2a # hand edit' /etc/nginx/sites-available/www.foobar.com");
    await mustOnHost(host('app1').address, 'chmod 600 /etc/default/prometheus-node-exporter; ufw delete allow proto tcp from 10.77.0.1 to any port 9100');
    await mustOnHost(host('app2').address, 'ufw allow 8081/tcp');
    await mustOnHost(host('db2').address, 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q curl');
    await mustOnHost(host('lb2').address, 'systemctl stop prometheus-node-exporter');
    await mustOnHost(host('db1').address, 'systemctl disable -q prometheus-mysqld-exporter');
    // A file that holds a secret: reported, never shown (neither the host's content nor infra's).
    await mustOnHost(host('web2').address, 'echo "# hand-edit-marker" >> /etc/ssl/infra/www.foobar.com.key');
    const { code, report, stdout } = await checkJson();
    expect(code).toBe(2);
    const web1 = report.hosts.find((h) => h.host === 'web1')?.drift.find((d) => d.subject.startsWith('file /etc/nginx/sites-available'));
    expect(web1?.message).toBe('update: content differs');
    expect(web1?.diff).toContain('-# hand edit');
    expect(driftOf(report, 'app1')).toEqual(
      expect.arrayContaining([
        'monitoring: file /etc/default/prometheus-node-exporter: update: mode 600 → 0644',
        expect.stringMatching(/^firewall: ufw allow 9100\/tcp from 10\.77\.0\.1\/32 .*: create: rule missing$/),
      ]),
    );
    expect(driftOf(report, 'app2')).toEqual([
      'cleanup: ufw allow 8081/tcp from any (not written by infra): delete: not written by infra (keep it with firewall.extra_rules)',
    ]);
    expect(driftOf(report, 'db2')).toEqual(['monitoring: package curl: create: not installed']);
    expect(driftOf(report, 'lb2')).toEqual(['monitoring: service prometheus-node-exporter: update: inactive → running']);
    expect(driftOf(report, 'db1')).toEqual(['db: service prometheus-mysqld-exporter: update: disabled → enabled']);
    expect(driftOf(report, 'web2')).toEqual(['web: file /etc/ssl/infra/www.foobar.com.key: update: content differs (holds secrets: no diff shown)']);
    expect(stdout).not.toContain('hand-edit-marker');
    expect(stdout).not.toContain('PRIVATE KEY');
    expect(
      report.hosts
        .filter((h) => h.status === 'ok')
        .map((h) => h.host)
        .sort(),
    ).toEqual(['lb1']);

    await repair();
    expect((await checkJson()).code).toBe(0);
    expect(await mustOnHost(host('app2').address, 'ufw status')).not.toContain('8081');
  });

  it('installs a missing package while another apt run holds the dpkg lock: it waits for the lock instead of failing', async () => {
    const app1 = host('app1').address;
    await mustOnHost(app1, 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q curl');
    // What unattended-upgrades does on a real server: holds apt's lock (an fcntl lock) for a while.
    const holder = "import fcntl, time; f = open('/var/lib/dpkg/lock-frontend', 'w'); fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(8)";
    await mustOnHost(app1, `systemd-run -q --unit=infra-test-apt-lock python3 -c "${holder}"`);
    const tryLock = "import fcntl; f = open('/var/lib/dpkg/lock-frontend', 'w'); fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)";
    await waitFor('the lock to be held', async () => (await onHost(app1, `python3 -c "${tryLock}"`)).code !== 0, 5_000);
    await repair();
    expect((await onHost(app1, 'systemctl is-active infra-test-apt-lock')).stdout.trim()).not.toBe('active');
    expect(await mustOnHost(app1, "dpkg-query -W -f='${Status}' curl")).toBe('install ok installed');
    expect((await checkJson()).code).toBe(0);
  });

  it('removes what infra did not write (a masked unit, a unit file chmod-ed, a file in a config folder, a db account): one provision, then check exits 0', async () => {
    await mustOnHost(host('web1').address, 'systemctl mask --now prometheus-node-exporter');
    await mustOnHost(host('app1').address, 'chmod 0777 /etc/systemd/system/app.service');
    await mustOnHost(host('web2').address, 'echo "server { listen 127.0.0.1:8099; return 200; }" > /etc/nginx/conf.d/by-hand.conf && nginx -s reload');
    await mustOnHost(host('lb1').address, 'echo by-hand > /etc/haproxy/notes.txt');
    await mustOnHost(host('db1').address, `mysql -e "CREATE USER 'by_hand'@'%' IDENTIFIED BY 'x'; GRANT ALL ON *.* TO 'by_hand'@'%'"`);
    const { code, report } = await checkJson();
    expect(code).toBe(2);
    expect(driftOf(report, 'web1')).toEqual(['monitoring: service prometheus-node-exporter: update: masked → unmasked, enabled and running']);
    expect(driftOf(report, 'app1')).toEqual([
      'app: file /etc/systemd/system/app.service: update: mode 777 → 0644',
      'app: command systemd loaded app.service: update: /etc/systemd/system/app.service changes in this run',
    ]);
    expect(driftOf(report, 'web2')).toEqual(['web: folder /etc/nginx/conf.d: delete: not written by infra: by-hand.conf (keep them with extra_files)']);
    expect(driftOf(report, 'lb1')).toEqual(['lb: folder /etc/haproxy: delete: not written by infra: notes.txt (keep them with extra_files)']);
    expect(driftOf(report, 'db1')).toEqual([
      'cleanup: command drop db accounts infra did not create: create: not created by infra (keep them with db.extra_accounts): by_hand@%',
    ]);

    await repair();
    expect((await checkJson()).code).toBe(0);
    // The file is kept on the host for the operator, out of nginx's reach; the account is gone from the replica too.
    expect(await mustOnHost(host('web2').address, 'ls /etc/nginx/conf.d; ls /var/lib/infra/removed/*/')).toMatch(
      /^infra-status-log\.conf\ninfra-stub-status\.conf\n%etc%nginx%conf\.d%by-hand\.conf\n$/,
    );
    expect(await mustOnHost(host('web2').address, 'ss -ltn')).not.toContain('127.0.0.1:8099');
    expect(await mustOnHost(host('db2').address, `mysql -N -e "SELECT COUNT(*) FROM mysql.user WHERE User = 'by_hand'"`)).toBe('0\n');
  });

  it('keeps what the inventory lists: firewall.extra_rules, extra_files and db.extra_accounts', async () => {
    await mustOnHost(host('app2').address, 'ufw allow from 10.77.0.0/24 to any port 6666 proto tcp');
    await mustOnHost(host('web1').address, 'echo "# kept" > /etc/nginx/conf.d/kept.conf');
    await mustOnHost(host('db1').address, `mysql -e "CREATE USER 'backup'@'10.77.0.1' IDENTIFIED BY 'x'"`);
    const inventory = await labInventoryVariant((doc) => {
      doc.firewall.extra_rules = [{ port: 6666, from: '10.77.0.0/24', hosts: ['app2'] }];
      doc.extra_files = ['/etc/nginx/conf.d/kept.conf'];
      doc.db.extra_accounts = ['backup@10.77.0.1'];
    });
    const kept = await runInfra(['check', inventory]);
    expect(kept.code, told(kept)).toBe(0);
    const result = await runInfra(['check', LAB_INVENTORY, '--json']);
    const report = JSON.parse(result.stdout) as CheckJson;
    expect(driftOf(report, 'app2')).toEqual([expect.stringMatching(/^cleanup: ufw allow 6666\/tcp from 10\.77\.0\.0\/24 \(not written by infra\): delete/)]);
    expect(driftOf(report, 'web1')).toEqual([expect.stringMatching(/kept\.conf/)]);
    expect(driftOf(report, 'db1')).toEqual([expect.stringMatching(/backup@10\.77\.0\.1$/)]);
    await repair();
    expect((await checkJson()).code).toBe(0);
  });

  it('reports a replica that stopped replicating, and provision restarts it', async () => {
    await mustOnHost(host('db2').address, `mysql -e '${STOP_REPLICA}'`);
    const { code, report } = await checkJson();
    expect(code).toBe(2);
    expect(driftOf(report, 'db2')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^db: replication: replica IO thread not running \(No\)/),
        expect.stringMatching(/^db: command replicates from db1: create/),
      ]),
    );
    await repair();
    expect((await checkJson()).code).toBe(0);
  });

  it('reports a VIP held by no lb host and a web host down in haproxy, and provision brings them back', async () => {
    await Promise.all(['lb1', 'lb2'].map((name) => mustOnHost(host(name).address, 'systemctl stop keepalived')));
    await mustOnHost(host('web2').address, 'systemctl stop nginx');
    // haproxy marks web2 down after two failed health checks, on each lb host at its own pace.
    const report = await waitForCheck((r) => ['lb1', 'lb2'].every((lb) => driftOf(r, lb).some((d) => d.includes('server web2 is DOWN'))));
    expect(report.fleet.map((d) => d.message)).toContain('the VIP 10.77.0.100 is held by no lb host');
    expect(driftOf(report, 'lb2')).toEqual(expect.arrayContaining(['lb: load balancer: haproxy backend web: server web2 is DOWN']));
    expect(driftOf(report, 'web2')).toEqual(expect.arrayContaining(['web: service nginx: update: inactive → running']));
    await repair();
    await waitForCheck((r) => r.exitCode === 0, 30_000);
  });

  it('reports a served certificate other than the deployed one, and certificates expiring soon', async () => {
    // web1 gets web2's certificate file: the deployed file differs from what nginx still serves.
    const web2Cert = await mustOnHost(host('web2').address, 'cat /etc/ssl/infra/www.foobar.com.crt');
    await mustOnHost(host('web1').address, `printf '%s' '${web2Cert}' > /etc/ssl/infra/www.foobar.com.crt`);
    const { code, report } = await checkJson();
    expect(code).toBe(2);
    expect(driftOf(report, 'web1')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^web: certificate: nginx serves a certificate .* other than the deployed one/)]),
    );
    await repair();
    expect((await checkJson()).code).toBe(0);
    const soon = await checkJson('--expiring-within', '1000');
    expect(soon.code).toBe(2);
    expect(driftOf(soon.report, 'web1')).toEqual([expect.stringMatching(/^web: certificate: certificate expires in \d+ days \(.*\), within 1000$/)]);
  });

  it('reports a reload left pending by a failed run, and provision performs it', async () => {
    await mustOnHost(host('web2').address, 'mkdir -p /var/lib/infra && echo reload:nginx >> /var/lib/infra/pending-handlers');
    const { code, report } = await checkJson();
    expect(code).toBe(2);
    expect(driftOf(report, 'web2')).toEqual(['web: reload:nginx: left pending by an earlier failed run']);
    await repair();
    expect((await checkJson()).code).toBe(0);
  });

  it('exits 1 when a host is unreachable, and still reports every other host', async () => {
    const inventory = await labInventoryVariant((doc) => {
      doc.ssh.connect_timeout = 3;
    });
    await setHostNetwork('app2', 'down');
    try {
      const result = await runInfra(['check', inventory, '--json']);
      const report = JSON.parse(result.stdout) as CheckJson;
      expect(result.code).toBe(1);
      expect(report.hosts.find((h) => h.host === 'app2')).toMatchObject({ status: 'unreachable' });
      expect(report.hosts.filter((h) => h.status === 'ok')).toHaveLength(7);
    } finally {
      await setHostNetwork('app2', 'up');
    }
  });
});
