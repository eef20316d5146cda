import { quoteCommand, quoteWord } from '../core/shell.js';
import type { Host } from '../inventory/model.js';
import { prometheusUrl } from '../roles/monitor.js';

/**
 * `infra status`: what Prometheus on a monitor host says about the fleet now, read in one script
 * run on that host (curl against its own address, through infra's SSH connection, so nothing but
 * SSH needs to reach it). The queries and the parsing are pure; the action runs and prints.
 */

/** Requests are what nginx logged (mtail's count): health checks and exporter scrapes are not clients. */
const REQUESTS = 'infra_nginx_responses_total';

export const STATUS_QUERIES = {
  // 0 rather than nothing before mtail has counted a first request.
  requestsPerSecond: `sum(rate(${REQUESTS}[1m])) or vector(0)`,
  requestsPerSecondByHost: `sum by (host) (rate(${REQUESTS}[1m]))`,
  // No 5xx series yet is none of them, not an unknown ratio.
  errorRatio: `(sum(rate(${REQUESTS}{status=~"5.."}[5m])) or vector(0)) / sum(rate(${REQUESTS}[5m]))`,
  replicationLagByHost: '{__name__=~"mysql_slave_status_seconds_behind_(master|source)"}',
  certificateDaysByHost: '(infra_tls_certificate_not_after_seconds - time()) / 86400',
  targetsUp: 'sum(up)',
  targets: 'count(up)',
} as const;

export type StatusQuery = keyof typeof STATUS_QUERIES;

const SECTION = '--infra-status ';

/** One script that prints every query's answer and the alert list, each after a marker line. */
export function statusScript(monitor: Host): string {
  const base = prometheusUrl(monitor);
  const get = (path: string, query?: string) =>
    quoteCommand(['curl', '-fsS', '--max-time', '10', '-G', ...(query === undefined ? [] : ['--data-urlencode', `query=${query}`]), `${base}${path}`]);
  const sections = [
    ...Object.entries(STATUS_QUERIES).map(([name, query]) => `echo ${quoteWord(SECTION + name)}; ${get('/api/v1/query', query)}; echo`),
    `echo ${quoteWord(`${SECTION}alerts`)}; ${get('/api/v1/alerts')}; echo`,
  ];
  return sections.join('\n');
}

export interface FiringAlert {
  name: string;
  severity: string;
  host?: string;
  summary: string;
}

export interface FleetStatus {
  /** Through the VIP: every request the web tier served, per second over the last minute. */
  requestsPerSecond?: number;
  requestsPerSecondByHost: Record<string, number>;
  /** 5xx responses over all, the last 5 minutes; undefined without requests. */
  errorRatio?: number;
  replicationLagByHost: Record<string, number>;
  certificateDaysByHost: Record<string, number>;
  targetsUp?: number;
  targets?: number;
  alerts: FiringAlert[];
  /** Queries Prometheus did not answer, with what came instead. */
  problems: string[];
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

function sectionsOf(output: string): Map<string, string> {
  const sections = new Map<string, string>();
  let name: string | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith(SECTION)) {
      name = line.slice(SECTION.length).trim();
      sections.set(name, '');
    } else if (name !== undefined) {
      sections.set(name, (sections.get(name) ?? '') + line + '\n');
    }
  }
  return sections;
}

/** The samples of an instant query; NaN (0/0: no requests) is left out. */
function samples(text: string | undefined): VectorSample[] | string {
  try {
    const answer = JSON.parse(text ?? '') as { status: string; data: { resultType: string; result: VectorSample[] } };
    if (answer.status !== 'success' || answer.data.resultType !== 'vector') return `unexpected answer: ${(text ?? '').trim().slice(0, 200)}`;
    return answer.data.result.filter((sample) => !Number.isNaN(Number(sample.value[1])));
  } catch {
    return (text ?? '').trim().slice(0, 200) || 'no answer';
  }
}

/** The answers of statusScript's output as figures, each missing one named in `problems`. */
export function parseStatus(output: string): FleetStatus {
  const sections = sectionsOf(output);
  const status: FleetStatus = { requestsPerSecondByHost: {}, replicationLagByHost: {}, certificateDaysByHost: {}, alerts: [], problems: [] };
  const read = (name: StatusQuery): VectorSample[] => {
    const result = samples(sections.get(name));
    if (typeof result === 'string') {
      status.problems.push(`${name}: ${result}`);
      return [];
    }
    return result;
  };
  const single = (name: StatusQuery) => {
    const [sample] = read(name);
    return sample === undefined ? undefined : Number(sample.value[1]);
  };
  const byHost = (name: StatusQuery) => Object.fromEntries(read(name).map((sample) => [sample.metric.host ?? '?', Number(sample.value[1])]));
  status.requestsPerSecond = single('requestsPerSecond');
  status.requestsPerSecondByHost = byHost('requestsPerSecondByHost');
  status.errorRatio = single('errorRatio');
  status.replicationLagByHost = byHost('replicationLagByHost');
  status.certificateDaysByHost = byHost('certificateDaysByHost');
  status.targetsUp = single('targetsUp');
  status.targets = single('targets');
  try {
    const alerts = (
      JSON.parse(sections.get('alerts') ?? '') as {
        data: { alerts: { labels: Record<string, string>; annotations?: Record<string, string>; state: string }[] };
      }
    ).data.alerts;
    status.alerts = alerts
      .filter((alert) => alert.state === 'firing')
      .map((alert) => ({
        name: alert.labels.alertname ?? 'unnamed',
        severity: alert.labels.severity ?? '',
        ...(alert.labels.host !== undefined ? { host: alert.labels.host } : {}),
        summary: alert.annotations?.summary ?? '',
      }));
  } catch {
    status.problems.push(`alerts: ${(sections.get('alerts') ?? '').trim().slice(0, 200) || 'no answer'}`);
  }
  return status;
}
