import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertRules } from '../../src/roles/monitor.js';
import { monitoredInventory } from './roles-fixture.js';

/**
 * infra's alert rules, each run by `promtool test rules` on series that should and should not
 * fire it. Needs promtool (scripts/system-deps.sh installs Debian's prometheus for it).
 */

interface Alert {
  exp_labels: Record<string, string>;
  exp_annotations: Record<string, string>;
}

interface AlertCase {
  /** How far into the series the rules are looked at, e.g. "90s". */
  at: string;
  alert: string;
  firing: Alert[];
}

/**
 * Runs promtool on the rules rendered for the inventory below, with the given input series
 * (promtool's expanding notation) sampled every `interval`; fails with promtool's own output.
 */
function promtoolTest(interval: string, series: Record<string, string>, cases: AlertCase[]): void {
  const found = spawnSync('sh', ['-c', 'command -v promtool']);
  if (found.status !== 0) throw new Error('promtool is not installed on this machine: run scripts/system-deps.sh (prometheus)');
  const dir = mkdtempSync(join(tmpdir(), 'infra-rules-'));
  writeFileSync(join(dir, 'rules.yml'), alertRules(inventory));
  const test = {
    rule_files: ['rules.yml'],
    evaluation_interval: interval,
    tests: [
      {
        interval,
        input_series: Object.entries(series).map(([name, values]) => ({ series: name, values })),
        alert_rule_test: cases.map(({ at, alert, firing }) => ({ eval_time: at, alertname: alert, exp_alerts: firing })),
      },
    ],
  };
  // JSON is YAML.
  writeFileSync(join(dir, 'test.json'), JSON.stringify(test, null, 2));
  const result = spawnSync('promtool', ['test', 'rules', 'test.json'], { cwd: dir, encoding: 'utf8' });
  expect(`promtool exit ${result.status}\n${result.stdout}${result.stderr}`).toMatch(/^promtool exit 0\n/);
}

const DAY_SECONDS = 86_400;

// Inventory: lb1 lb2 holding the VIP 10.0.0.100, web1 web2, app1 app2, db1 the primary with
// replicas db2 db3 (lag threshold 30 s, the default), mon1.
const inventory = monitoredInventory();

describe('alert rules (promtool test rules)', () => {
  it('TargetDown: a host or an exporter that stops answering, after 30 s', () => {
    promtoolTest(
      '10s',
      { 'up{job="nginx",host="web1",instance="10.0.0.21:9113"}': '1 1 0 0 0 0 0 0 0', 'up{job="node",host="web2",instance="10.0.0.22:9100"}': '1x8' },
      [
        { at: '30s', alert: 'TargetDown', firing: [] },
        {
          at: '60s',
          alert: 'TargetDown',
          firing: [
            {
              exp_labels: { severity: 'critical', job: 'nginx', host: 'web1', instance: '10.0.0.21:9113' },
              exp_annotations: { summary: 'nginx on web1 does not answer (10.0.0.21:9113)' },
            },
          ],
        },
      ],
    );
  });

  it('DiskFillingWithin24h: a disk whose last hours lead to full within a day, not a steady one', () => {
    // 10 GB free losing 10 MB a minute is 14.4 GB a day; the other disk stays at 10 GB.
    promtoolTest(
      '1m',
      {
        'node_filesystem_avail_bytes{host="db1",mountpoint="/",fstype="ext4"}': '10000000000-10000000x420',
        'node_filesystem_readonly{host="db1",mountpoint="/",fstype="ext4"}': '0x420',
        'node_filesystem_avail_bytes{host="db2",mountpoint="/",fstype="ext4"}': '10000000000x420',
        'node_filesystem_readonly{host="db2",mountpoint="/",fstype="ext4"}': '0x420',
      },
      [
        {
          at: '6h',
          alert: 'DiskFillingWithin24h',
          firing: [
            {
              exp_labels: { severity: 'warning', host: 'db1', mountpoint: '/', fstype: 'ext4' },
              exp_annotations: { summary: '/ on db1 fills up within 24 h at its current rate' },
            },
          ],
        },
      ],
    );
  });

  it('HaproxyDown: haproxy stopped on an lb host (systemd) or its metrics gone, after 30 s', () => {
    promtoolTest(
      '10s',
      {
        'node_systemd_unit_state{job="node",host="lb2",name="haproxy.service",state="active"}': '1 1 0 0 0 0 0 0 0',
        'node_systemd_unit_state{job="node",host="lb1",name="haproxy.service",state="active"}': '1x8',
        'up{job="haproxy",host="lb1"}': '1 1 1 1 0 0 0 0 0 0 0',
        // Both signals of one host make one alert.
        'up{job="haproxy",host="lb2"}': '1 1 0 0 0 0 0 0 0 0 0',
      },
      [
        { at: '20s', alert: 'HaproxyDown', firing: [] },
        {
          at: '60s',
          alert: 'HaproxyDown',
          firing: [{ exp_labels: { severity: 'critical', host: 'lb2' }, exp_annotations: { summary: 'haproxy is down on lb2' } }],
        },
        {
          at: '100s',
          alert: 'HaproxyDown',
          firing: [
            { exp_labels: { severity: 'critical', host: 'lb2' }, exp_annotations: { summary: 'haproxy is down on lb2' } },
            { exp_labels: { severity: 'critical', host: 'lb1' }, exp_annotations: { summary: 'haproxy is down on lb1' } },
          ],
        },
      ],
    );
  });

  it('HaproxyBackendServerDown: haproxy sending to fewer web hosts than the inventory has', () => {
    promtoolTest(
      '10s',
      {
        'haproxy_backend_active_servers{job="haproxy",host="lb1",proxy="web"}': '2 2 1 1 1 1 1 1',
        'haproxy_backend_active_servers{job="haproxy",host="lb2",proxy="web"}': '2x7',
      },
      [
        {
          at: '60s',
          alert: 'HaproxyBackendServerDown',
          firing: [
            {
              exp_labels: { severity: 'warning', job: 'haproxy', host: 'lb1', proxy: 'web' },
              exp_annotations: { summary: 'haproxy on lb1 sends to 1 of 2 web hosts' },
            },
          ],
        },
      ],
    );
  });

  it('VipHeldByNoHost: no lb host MASTER, or no lb host saying', () => {
    const noHolder = { exp_labels: { severity: 'critical' }, exp_annotations: { summary: 'no lb host holds the VIP 10.0.0.100' } };
    promtoolTest('10s', { 'infra_vrrp_master{host="lb1"}': '1 1 0 0 0 0 0 0', 'infra_vrrp_master{host="lb2"}': '0x7' }, [
      { at: '10s', alert: 'VipHeldByNoHost', firing: [] },
      { at: '60s', alert: 'VipHeldByNoHost', firing: [noHolder] },
    ]);
    promtoolTest('10s', { 'up{job="node",host="web1"}': '1x7' }, [{ at: '60s', alert: 'VipHeldByNoHost', firing: [noHolder] }]);
  });

  it('VipHeldByTwoHosts: both lb hosts MASTER', () => {
    promtoolTest('10s', { 'infra_vrrp_master{host="lb1"}': '1x7', 'infra_vrrp_master{host="lb2"}': '0 0 1 1 1 1 1 1' }, [
      { at: '10s', alert: 'VipHeldByTwoHosts', firing: [] },
      {
        at: '70s',
        alert: 'VipHeldByTwoHosts',
        firing: [{ exp_labels: { severity: 'critical' }, exp_annotations: { summary: '2 lb hosts hold the VIP 10.0.0.100' } }],
      },
    ]);
  });

  it('KeepalivedStateChanged: shown at once for 10 minutes after a change of state', () => {
    promtoolTest('1m', { 'infra_vrrp_state{job="node",host="lb2"}': '0 0 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2' }, [
      { at: '1m', alert: 'KeepalivedStateChanged', firing: [] },
      {
        at: '2m',
        alert: 'KeepalivedStateChanged',
        firing: [
          {
            exp_labels: { severity: 'info', job: 'node', host: 'lb2' },
            exp_annotations: { summary: 'keepalived on lb2 changed state in the last 10 minutes (infra_vrrp_state: 0 backup, 1 master, 2 fault)' },
          },
        ],
      },
      { at: '15m', alert: 'KeepalivedStateChanged', firing: [] },
    ]);
  });

  it("RequestRateFarFromUsual: five times the day's average for 15 minutes; not a steady rate", () => {
    // A day at 10 requests/s (600 a minute), then 50/s.
    const steadyDay = `0+600x${DAY_SECONDS / 60}`;
    const series = { 'infra_nginx_responses_total{job="mtail",host="web1",status="200"}': `${steadyDay} ${(DAY_SECONDS / 60) * 600 + 3000}+3000x40` };
    promtoolTest('1m', series, [
      { at: '23h', alert: 'RequestRateFarFromUsual', firing: [] },
      { at: '24h10m', alert: 'RequestRateFarFromUsual', firing: [] },
      {
        at: '24h30m',
        alert: 'RequestRateFarFromUsual',
        firing: [{ exp_labels: { severity: 'warning' }, exp_annotations: { summary: 'the web tier serves 50.0 requests/s, far from its usual rate' } }],
      },
    ]);
  });

  it("Nginx5xxRatioHigh: more than 5% of a web host's responses 5xx for 5 minutes", () => {
    promtoolTest(
      '1m',
      {
        'infra_nginx_responses_total{job="mtail",host="web1",status="200"}': '0+900x15',
        'infra_nginx_responses_total{job="mtail",host="web1",status="502"}': '0+100x15',
        'infra_nginx_responses_total{job="mtail",host="web2",status="200"}': '0+990x15',
        'infra_nginx_responses_total{job="mtail",host="web2",status="500"}': '0+10x15',
      },
      [
        { at: '5m', alert: 'Nginx5xxRatioHigh', firing: [] },
        {
          at: '12m',
          alert: 'Nginx5xxRatioHigh',
          firing: [{ exp_labels: { severity: 'warning', host: 'web1' }, exp_annotations: { summary: '10% of the responses of web1 are 5xx (threshold 5%)' } }],
        },
      ],
    );
  });

  it('CertificateExpiresSoon: a served certificate within 21 days of its end', () => {
    promtoolTest(
      '1m',
      {
        [`infra_tls_certificate_not_after_seconds{job="node",host="web1",domain="www.foobar.com"}`]: `${20 * DAY_SECONDS}x3`,
        [`infra_tls_certificate_not_after_seconds{job="node",host="web2",domain="www.foobar.com"}`]: `${30 * DAY_SECONDS}x3`,
      },
      [
        {
          at: '1m',
          alert: 'CertificateExpiresSoon',
          firing: [
            {
              exp_labels: { severity: 'warning', job: 'node', host: 'web1', domain: 'www.foobar.com' },
              exp_annotations: { summary: 'the certificate of www.foobar.com on web1 expires in 19d 23h 59m 0s' },
            },
          ],
        },
      ],
    );
  });

  it('ReplicaNotRunning: a replication thread stopped, or a replica without replication status', () => {
    const notRunning = (host: string, labels: Record<string, string>) => ({
      exp_labels: { severity: 'critical', host, ...labels },
      exp_annotations: { summary: `replication is not running on ${host}` },
    });
    promtoolTest(
      '10s',
      {
        'up{job="mysqld",host="db2"}': '1x9',
        'mysql_slave_status_slave_io_running{job="mysqld",host="db2"}': '1x9',
        'mysql_slave_status_slave_sql_running{job="mysqld",host="db2"}': '1 1 0 0 0 0 0 0 0 0',
        // A newer exporter names them replica_*; db3 replicates.
        'up{job="mysqld",host="db3"}': '1x9',
        'mysql_slave_status_replica_io_running{job="mysqld",host="db3"}': '1x9',
        'mysql_slave_status_replica_sql_running{job="mysqld",host="db3"}': '1x9',
        // The primary has no replication status: that is no alert.
        'up{job="mysqld",host="db1"}': '1x9',
      },
      [{ at: '60s', alert: 'ReplicaNotRunning', firing: [notRunning('db2', { job: 'mysqld' })] }],
    );
    promtoolTest(
      '10s',
      {
        'up{job="mysqld",host="db3"}': '1x9',
        'mysql_slave_status_replica_io_running{job="mysqld",host="db3"}': '0x9',
        'mysql_slave_status_replica_sql_running{job="mysqld",host="db3"}': '1x9',
      },
      [{ at: '60s', alert: 'ReplicaNotRunning', firing: [notRunning('db3', { job: 'mysqld' })] }],
    );
    promtoolTest('10s', { 'up{job="mysqld",host="db2"}': '1x9' }, [{ at: '60s', alert: 'ReplicaNotRunning', firing: [notRunning('db2', { job: 'mysqld' })] }]);
  });

  it('ReplicaLagging: a replica more than its replication_max_lag_seconds behind for a minute', () => {
    promtoolTest(
      '10s',
      {
        'mysql_slave_status_seconds_behind_master{job="mysqld",host="db2"}': '0 10 45 45 45 45 45 45 45 45 45',
        'mysql_slave_status_seconds_behind_master{job="mysqld",host="db3"}': '20x10',
      },
      [
        { at: '40s', alert: 'ReplicaLagging', firing: [] },
        {
          at: '90s',
          alert: 'ReplicaLagging',
          firing: [
            {
              exp_labels: { severity: 'warning', job: 'mysqld', host: 'db2' },
              exp_annotations: { summary: 'db2 is 45 s behind its primary (threshold 30 s)' },
            },
          ],
        },
      ],
    );
  });
});
