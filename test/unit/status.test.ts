import { describe, expect, it } from 'vitest';
import { parseStatus, STATUS_QUERIES, statusScript } from '../../src/check/status.js';
import { renderStatus } from '../../src/cli/actions/status.js';
import { hostOf, monitoredInventory } from './roles-fixture.js';

/** What Prometheus answers an instant query with. */
function vector(samples: [Record<string, string>, string][]): string {
  return JSON.stringify({
    status: 'success',
    data: { resultType: 'vector', result: samples.map(([metric, value]) => ({ metric, value: [1767225600, value] })) },
  });
}

function output(sections: Record<string, string>): string {
  return Object.entries(sections)
    .map(([name, text]) => `--infra-status ${name}\n${text}\n`)
    .join('');
}

// Inventory: the role tests' fleet with mon1 at 10.0.0.51.
const mon1 = hostOf(monitoredInventory(), 'mon1');

describe('infra status', () => {
  it("asks Prometheus on the monitor host's own address, every query in one script", () => {
    const script = statusScript(mon1);
    for (const query of Object.values(STATUS_QUERIES)) expect(script).toContain(query.slice(0, 20));
    expect(script).toContain('http://10.0.0.51:9090/api/v1/query');
    expect(script).toContain('http://10.0.0.51:9090/api/v1/alerts');
  });

  it('reads the figures and the firing alerts, and prints them on one screen', () => {
    const status = parseStatus(
      output({
        requestsPerSecond: vector([[{}, '48.7']]),
        requestsPerSecondByHost: vector([
          [{ host: 'web2' }, '24.3'],
          [{ host: 'web1' }, '24.4'],
        ]),
        errorRatio: vector([[{}, '0.0125']]),
        replicationLagByHost: vector([[{ __name__: 'mysql_slave_status_seconds_behind_master', host: 'db2' }, '3']]),
        certificateDaysByHost: vector([
          [{ host: 'web1', domain: 'www.foobar.com' }, '89.6'],
          [{ host: 'web2', domain: 'www.foobar.com' }, '89.6'],
        ]),
        targetsUp: vector([[{}, '19']]),
        targets: vector([[{}, '20']]),
        alerts: JSON.stringify({
          status: 'success',
          data: {
            alerts: [
              { labels: { alertname: 'HaproxyDown', host: 'lb2', severity: 'critical' }, annotations: { summary: 'haproxy is down on lb2' }, state: 'firing' },
              {
                labels: { alertname: 'TargetDown', host: 'lb2', severity: 'critical' },
                annotations: { summary: 'haproxy on lb2 does not answer' },
                state: 'pending',
              },
            ],
          },
        }),
      }),
    );
    expect(status.problems).toEqual([]);
    expect(renderStatus({ monitor: 'mon1', prometheus: 'http://10.0.0.51:9090', ...status }).split('\n')).toEqual([
      'mon1: Prometheus http://10.0.0.51:9090',
      'requests/s    through the VIP 48.7   web1 24.4   web2 24.3',
      '5xx           1.25% of responses (last 5 min)',
      'replication   db2 3 s behind',
      'certificate   web1 89 days left   web2 89 days left',
      'targets       19/20 up',
      'alerts        1 firing',
      '  critical HaproxyDown (lb2): haproxy is down on lb2',
      '',
    ]);
  });

  it('says when there were no requests, and names the queries Prometheus did not answer', () => {
    const status = parseStatus(output({ requestsPerSecond: vector([[{}, '0']]), errorRatio: vector([[{}, 'NaN']]), targets: 'curl: (7) Failed to connect' }));
    expect(status.requestsPerSecond).toBe(0);
    expect(status.errorRatio).toBeUndefined();
    expect(status.problems).toContain('targets: curl: (7) Failed to connect');
    expect(status.problems).toContain('alerts: no answer');
    expect(renderStatus({ monitor: 'mon1', prometheus: 'http://10.0.0.51:9090', ...status })).toContain('5xx           no requests in the last 5 min');
  });
});
