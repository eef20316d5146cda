import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileResource, HealthContext, PhaseDesire } from '../../src/core/types.js';
import type { Inventory } from '../../src/inventory/model.js';
import { firewallRules } from '../../src/roles/firewall.js';
import { lbPhase } from '../../src/roles/lb.js';
import { certificateMetricsCommand } from '../../src/roles/web.js';
import { desiredForHost } from '../../src/roles/index.js';
import { ALERTMANAGER_CONFIG, firingAlertsCheck, monitorPhase, PROMETHEUS_CONFIG, RULES_FILE, scrapeJobs } from '../../src/roles/monitor.js';
import { ROLE_REGISTRY } from '../../src/roles/registry.js';
import { hostOf, monitoredInventory, testInventory } from './roles-fixture.js';

function file(phase: PhaseDesire, path: string): string {
  const found = phase.resources.find((r): r is FileResource => r.kind === 'file' && r.path === path);
  if (!found) throw new Error(`no file ${path}`);
  return found.content;
}

function phaseOf(inventory: Inventory): PhaseDesire {
  return monitorPhase(inventory, hostOf(inventory, 'mon1'), {}, undefined, ROLE_REGISTRY);
}

/** Runs a checker; on failure the assertion shows its own output. */
function accepted(program: string, args: string[]): void {
  const found = spawnSync('sh', ['-c', `command -v ${program}`]);
  if (found.status !== 0) throw new Error(`${program} is not installed on this machine: run scripts/system-deps.sh (prometheus, prometheus-alertmanager)`);
  const result = spawnSync(program, args, { encoding: 'utf8' });
  expect(`${program} exit ${result.status}\n${result.stdout}${result.stderr}`).toMatch(new RegExp(`^${program} exit 0\n`));
}

// Inventory: the role tests' fleet (lb1 lb2 with a VIP, web1 web2, app1 app2, db1 primary, db2 db3
// replicas) with mon1 at 10.0.0.51; admin and monitoring sources 10.0.0.1/32.
describe('the monitor role', () => {
  it('scrapes the node exporter of every host and each role exporter where the role runs, at the private addresses', () => {
    const jobs = scrapeJobs(monitoredInventory(), ROLE_REGISTRY);
    const targets = Object.fromEntries(jobs.map((job) => [job.name, job.targets.map((target) => `${target.host}=${target.address}`)]));
    expect(targets).toEqual({
      node: [
        'lb1=10.0.0.11:9100',
        'lb2=10.0.0.12:9100',
        'web1=10.0.0.21:9100',
        'web2=10.0.0.22:9100',
        'app1=10.0.0.31:9100',
        'app2=10.0.0.32:9100',
        'db1=10.0.0.41:9100',
        'db2=10.0.0.42:9100',
        'db3=10.0.0.43:9100',
        'mon1=10.0.0.51:9100',
      ],
      haproxy: ['lb1=10.0.0.11:8404', 'lb2=10.0.0.12:8404'],
      nginx: ['web1=10.0.0.21:9113', 'web2=10.0.0.22:9113'],
      mtail: ['web1=10.0.0.21:3903', 'web2=10.0.0.22:3903'],
      mysqld: ['db1=10.0.0.41:9104', 'db2=10.0.0.42:9104', 'db3=10.0.0.43:9104'],
    });
  });

  it('adds the targets of a host added to the inventory', () => {
    const inventory = monitoredInventory();
    const web3 = { ...hostOf(inventory, 'web2'), name: 'web3', address: '10.0.0.23' };
    const jobs = scrapeJobs({ ...inventory, hosts: [...inventory.hosts, web3] }, ROLE_REGISTRY);
    expect(jobs.find((job) => job.name === 'nginx')?.targets).toContainEqual({ host: 'web3', address: '10.0.0.23:9113' });
    expect(jobs.find((job) => job.name === 'node')?.targets).toContainEqual({ host: 'web3', address: '10.0.0.23:9100' });
  });

  it('opens every exporter to the monitor hosts and the monitoring sources, and nothing more', () => {
    const inventory = monitoredInventory();
    const exporterSources = (host: string, port: number) =>
      firewallRules(inventory, hostOf(inventory, host))
        .filter((rule) => rule.port === port)
        .map((rule) => rule.from);
    expect(exporterSources('web1', 9100)).toEqual(['10.0.0.51', '10.0.0.1/32']);
    expect(exporterSources('web1', 9113)).toEqual(['10.0.0.51', '10.0.0.1/32']);
    expect(exporterSources('lb2', 8404)).toEqual(['10.0.0.51', '10.0.0.1/32']);
    expect(exporterSources('db3', 9104)).toEqual(['10.0.0.51', '10.0.0.1/32']);
    // Without a monitor host the exporters answer the monitoring sources alone, as before.
    const unmonitored = testInventory();
    expect(
      firewallRules(unmonitored, hostOf(unmonitored, 'web1'))
        .filter((rule) => rule.port === 9113)
        .map((rule) => rule.from),
    ).toEqual(['10.0.0.1/32']);
  });

  it("lets only the admin sources reach Prometheus and Alertmanager, which listen on the host's own address", () => {
    const inventory = monitoredInventory({ firewall: { adminSources: ['192.0.2.0/24'], extraRules: [] } });
    const rules = firewallRules(inventory, hostOf(inventory, 'mon1')).filter((rule) => rule.port === 9090 || rule.port === 9093);
    expect(rules.map(({ port, from }) => `${port} ${from}`)).toEqual(['9090 192.0.2.0/24', '9093 192.0.2.0/24']);
    const phase = phaseOf(inventory);
    expect(file(phase, '/etc/default/prometheus')).toContain('--web.listen-address=10.0.0.51:9090');
    expect(file(phase, '/etc/default/prometheus-alertmanager')).toContain('--web.listen-address=10.0.0.51:9093');
  });

  it('runs last on its host, after every role whose exporters it scrapes', () => {
    const inventory = monitoredInventory();
    expect(desiredForHost(inventory, hostOf(inventory, 'mon1'), {}).phases.map((phase) => phase.phase)).toEqual([
      'firewall',
      'monitoring',
      'monitor',
      'cleanup',
    ]);
  });

  it('checks its configs with promtool and amtool before any reload', () => {
    expect(phaseOf(monitoredInventory()).validators.map((validator) => validator.script)).toEqual(
      expect.arrayContaining([
        `promtool check config --lint=none ${PROMETHEUS_CONFIG} >/dev/null`,
        `promtool check rules --lint=none ${RULES_FILE} >/dev/null`,
        `amtool check-config ${ALERTMANAGER_CONFIG} >/dev/null`,
      ]),
    );
  });

  it('renders a prometheus.yml and rules that promtool accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-monitor-'));
    const phase = phaseOf(monitoredInventory());
    const rules = join(dir, 'infra-rules.yml');
    writeFileSync(rules, file(phase, RULES_FILE));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, file(phase, PROMETHEUS_CONFIG).replace(RULES_FILE, rules));
    accepted('promtool', ['check', 'config', '--lint=none', config]);
    accepted('promtool', ['check', 'rules', '--lint=none', rules]);
  });

  it('renders rules promtool accepts for a fleet without lb, VIP or replicas', () => {
    const base = monitoredInventory();
    const inventory: Inventory = {
      ...base,
      vip: undefined,
      hosts: base.hosts.filter((host) => !['lb1', 'lb2', 'db2', 'db3'].includes(host.name)),
      db: { ...base.db, replicas: [] },
    };
    const path = join(mkdtempSync(join(tmpdir(), 'infra-monitor-')), 'rules.yml');
    const text = file(phaseOf(inventory), RULES_FILE);
    writeFileSync(path, text);
    accepted('promtool', ['check', 'rules', '--lint=none', path]);
    expect(text).not.toMatch(/Haproxy|Vip|Replica/);
  });

  it("sends alerts to the inventory's webhook or mail, or to no one, in an alertmanager.yml amtool accepts", () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-monitor-'));
    const cases: [Inventory['alerting'], RegExp][] = [
      [undefined, /receivers:\n {2}- name: infra\n$/],
      [{ webhook: 'https://hooks.example.com/infra?token=abc' }, /url: 'https:\/\/hooks\.example\.com\/infra\?token=abc'/],
      [
        { email: { to: 'ops@example.com', from: 'alerts@example.com', smarthost: 'mail.example.com:25' } },
        /to: 'ops@example\.com'[\s\S]*smarthost: 'mail\.example\.com:25'/,
      ],
    ];
    for (const [alerting, expected] of cases) {
      const text = file(phaseOf(monitoredInventory(alerting ? { alerting } : {})), ALERTMANAGER_CONFIG);
      expect(text).toMatch(expected);
      const path = join(dir, 'alertmanager.yml');
      writeFileSync(path, text);
      accepted('amtool', ['check-config', path]);
    }
  });
});

describe('infra check on a monitor host', () => {
  const context: HealthContext = { now: new Date('2026-01-01T00:00:00Z'), expiryWarningDays: 21 };
  const inventory = monitoredInventory();
  const check = firingAlertsCheck(hostOf(inventory, 'mon1'));

  it("asks Prometheus on the host's address for its alerts", () => {
    expect(check.script).toContain('http://10.0.0.51:9090/api/v1/alerts');
  });

  it('lists each firing alert as a finding, and neither pending nor info alerts', () => {
    const output = JSON.stringify({
      status: 'success',
      data: {
        alerts: [
          { labels: { alertname: 'HaproxyDown', host: 'lb2', severity: 'critical' }, annotations: { summary: 'haproxy is down on lb2' }, state: 'firing' },
          {
            labels: { alertname: 'TargetDown', host: 'web1', severity: 'critical' },
            annotations: { summary: 'nginx on web1 does not answer' },
            state: 'pending',
          },
          {
            labels: { alertname: 'KeepalivedStateChanged', host: 'lb2', severity: 'info' },
            annotations: { summary: 'keepalived on lb2 changed state' },
            state: 'firing',
          },
        ],
      },
    });
    const result = check.evaluate(output, context);
    expect(result.problems).toEqual(['alert HaproxyDown firing: haproxy is down on lb2']);
  });

  it('reports a Prometheus that gives no alert list', () => {
    expect(check.evaluate('curl: (7) Failed to connect to 10.0.0.51 port 9090', context).problems).toEqual([
      'Prometheus on mon1 gave no alert list: curl: (7) Failed to connect to 10.0.0.51 port 9090',
    ]);
  });
});

describe('the metrics infra leaves for the node exporter', () => {
  const run = (script: string) => spawnSync('bash', ['-c', script], { encoding: 'utf8' });

  it("on web hosts: the deployed certificate's expiry, rewritten when the certificate changes", () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-textfile-'));
    const certificate = join(dir, 'www.foobar.com.crt');
    const issue = (days: number) =>
      expect(
        run(
          `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ${dir}/key -subj /CN=www.foobar.com -days ${days} -out ${certificate} 2>&1`,
        ).status,
      ).toBe(0);
    issue(30);
    const command = certificateMetricsCommand(certificate, 'www.foobar.com');
    const local = (text: string) => text.replaceAll('/var/lib/prometheus/node-exporter', dir);
    expect(run(local(command.unless as string)).status).not.toBe(0);
    expect(run(local(command.script)).status).toBe(0);
    const notAfter = Number(
      /infra_tls_certificate_not_after_seconds\{domain="www\.foobar\.com"\} (\d+)\n$/.exec(readFileSync(join(dir, 'infra_tls.prom'), 'utf8'))?.[1],
    );
    expect(Math.round((notAfter * 1000 - Date.now()) / 86_400_000)).toBe(30);
    expect(run(local(command.unless as string)).status).toBe(0);
    // A rotated certificate: the guard no longer holds.
    issue(90);
    expect(run(local(command.unless as string)).status).not.toBe(0);
  });

  it("on lb hosts: keepalived's notify script writes who holds the VIP and the state", () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-textfile-'));
    const inventory = monitoredInventory();
    const script = file(lbPhase(inventory, hostOf(inventory, 'lb1')), '/etc/keepalived/infra-vrrp-notify.sh').replaceAll(
      '/var/lib/prometheus/node-exporter',
      dir,
    );
    writeFileSync(join(dir, 'notify.sh'), script);
    const stateAfter = (state: string) => {
      // keepalived runs it with umask 077; the node exporter runs as prometheus.
      expect(run(`umask 077; sh ${dir}/notify.sh INSTANCE web_vip ${state}`).status).toBe(0);
      expect(statSync(join(dir, 'infra_vrrp.prom')).mode & 0o777).toBe(0o644);
      return readFileSync(join(dir, 'infra_vrrp.prom'), 'utf8')
        .split('\n')
        .filter((line) => !line.startsWith('#') && line !== '');
    };
    expect(stateAfter('MASTER')).toEqual(['infra_vrrp_master 1', 'infra_vrrp_state 1']);
    expect(stateAfter('BACKUP')).toEqual(['infra_vrrp_master 0', 'infra_vrrp_state 0']);
    expect(stateAfter('FAULT')).toEqual(['infra_vrrp_master 0', 'infra_vrrp_state 2']);
    expect(file(lbPhase(inventory, hostOf(inventory, 'lb1')), '/etc/keepalived/keepalived.conf')).toContain('notify "/etc/keepalived/infra-vrrp-notify.sh"');
  });
});
