import { quoteCommand } from '../core/shell.js';
import type { HealthCheck, PhaseDesire, Resource } from '../core/types.js';
import type { Host, Inventory } from '../inventory/model.js';
import { NODE_EXPORTER_PORT, ROLE_PORTS } from '../inventory/ports.js';
import type { RoleDefinition } from './definition.js';
import { WEB_BACKEND } from './lb.js';
// Only the type: the registry lists this role, so importing its module here would be a cycle.
import type { RoleRegistry } from './registry.js';
import { renderTemplate } from './render.js';
import type { DbPlatform } from './db-engines.js';
import type { RoleSecrets } from './secrets.js';
import { hostsWithRole, integerVar, ownedFolder } from './topology.js';

const PROMETHEUS = 'prometheus';
const ALERTMANAGER = 'prometheus-alertmanager';
const CONFIG_DIR = '/etc/prometheus';
export const PROMETHEUS_CONFIG = `${CONFIG_DIR}/prometheus.yml`;
export const RULES_FILE = `${CONFIG_DIR}/infra-rules.yml`;
export const ALERTMANAGER_CONFIG = `${CONFIG_DIR}/alertmanager.yml`;
const PROMETHEUS_DEFAULTS = `/etc/default/${PROMETHEUS}`;
const ALERTMANAGER_DEFAULTS = `/etc/default/${ALERTMANAGER}`;

/** Short enough that an alert fires within 90 s of a failure: a scrape and an evaluation every 10 s, 30 s pending. */
export const SCRAPE_SECONDS = 10;
const DOWN_FOR = '30s';
const RETENTION_DAYS = 15;
/** The same window `infra check` warns in. */
export const CERTIFICATE_WARNING_DAYS = 21;
const MAX_5XX_RATIO = 0.05;
/** Below this usual rate (requests per second) a site is too quiet for "far from usual" to mean anything. */
const MIN_USUAL_REQUEST_RATE = 1;

export interface ScrapeTarget {
  /** address:port */
  address: string;
  host: string;
}

export interface ScrapeJob {
  name: string;
  targets: ScrapeTarget[];
}

/**
 * What Prometheus scrapes, from the roles: the node exporter on every host, and each opening of a
 * host's roles that names a job (haproxy on lb, nginx on web, mysqld on db), at the host's private
 * address. A host added to the inventory adds its targets.
 */
export function scrapeJobs(inventory: Inventory, registry: RoleRegistry): ScrapeJob[] {
  const jobs = new Map<string, ScrapeTarget[]>([['node', []]]);
  for (const host of inventory.hosts) {
    jobs.get('node')?.push({ address: `${host.address}:${NODE_EXPORTER_PORT}`, host: host.name });
    for (const role of host.roles.map((name) => registry[name])) {
      for (const opening of role.openings) {
        if (opening.job === undefined) continue;
        const port = typeof opening.port === 'number' ? opening.port : opening.port(inventory);
        const targets = jobs.get(opening.job) ?? [];
        targets.push({ address: `${host.address}:${port}`, host: host.name });
        jobs.set(opening.job, targets);
      }
    }
  }
  return [...jobs].map(([name, targets]) => ({ name, targets }));
}

/** infra's alert rules for the inventory's hosts (thresholds from their vars). */
export function alertRules(inventory: Inventory): string {
  const lbHosts = hostsWithRole(inventory, 'lb').map((host) => host.name);
  const replicas = inventory.db.replicas.flatMap((name) => inventory.hosts.filter((host) => host.name === name));
  return renderTemplate(
    'monitor/rules.yml.ejs',
    {
      lbHosts,
      vip: inventory.vip,
      backend: WEB_BACKEND,
      webCount: hostsWithRole(inventory, 'web').length,
      replicas: replicas.map((replica) => ({ name: replica.name, maxLagSeconds: integerVar(replica, 'replication_max_lag_seconds') })),
      downFor: DOWN_FOR,
      certificateWarningDays: CERTIFICATE_WARNING_DAYS,
      max5xxRatio: MAX_5XX_RATIO,
      minUsualRequestRate: MIN_USUAL_REQUEST_RATE,
    },
    inventory.templatesDir,
  );
}

/** The Prometheus UI of a monitor host, where the admin sources look. */
export function prometheusUrl(host: Host): string {
  return `http://${host.address}:${ROLE_PORTS.prometheus}`;
}

/**
 * The monitor phase: Prometheus scraping every exporter of the fleet and evaluating infra's alert
 * rules, and Alertmanager sending what fires to the inventory's receivers. Both listen on the
 * host's own address, which ufw opens to the admin sources only. promtool and amtool check the
 * configs before anything reloads.
 */
export function monitorPhase(
  inventory: Inventory,
  host: Host,
  _secrets: RoleSecrets,
  _dbPlatform: DbPlatform | undefined,
  registry: RoleRegistry,
): PhaseDesire {
  const reloadPrometheus = `reload:${PROMETHEUS}`;
  const restartPrometheus = `restart:${PROMETHEUS}`;
  const reloadAlertmanager = `reload:${ALERTMANAGER}`;
  const restartAlertmanager = `restart:${ALERTMANAGER}`;
  const alertmanagerAddress = `${host.address}:${ROLE_PORTS.alertmanager}`;
  const root = { owner: 'root', group: 'root' };
  // Alertmanager's config may hold a webhook URL with a token in it: prometheus reads it, no one else.
  const readByPrometheus = { owner: 'root', group: PROMETHEUS };
  const resources: Resource[] = [
    { kind: 'package', name: PROMETHEUS },
    { kind: 'package', name: ALERTMANAGER },
    {
      kind: 'file',
      path: PROMETHEUS_DEFAULTS,
      content: renderTemplate(
        'monitor/prometheus.default.ejs',
        { address: host.address, port: ROLE_PORTS.prometheus, configFile: PROMETHEUS_CONFIG, retentionDays: RETENTION_DAYS },
        inventory.templatesDir,
      ),
      mode: '0644',
      ...root,
      notify: [restartPrometheus],
    },
    {
      kind: 'file',
      path: PROMETHEUS_CONFIG,
      content: renderTemplate(
        'monitor/prometheus.yml.ejs',
        { hostName: host.name, scrapeSeconds: SCRAPE_SECONDS, alertmanager: alertmanagerAddress, rulesFile: RULES_FILE, jobs: scrapeJobs(inventory, registry) },
        inventory.templatesDir,
      ),
      mode: '0644',
      ...root,
      notify: [reloadPrometheus],
    },
    { kind: 'file', path: RULES_FILE, content: alertRules(inventory), mode: '0644', ...root, notify: [reloadPrometheus] },
    {
      kind: 'file',
      path: ALERTMANAGER_DEFAULTS,
      content: renderTemplate(
        'monitor/prometheus-alertmanager.default.ejs',
        { address: host.address, port: ROLE_PORTS.alertmanager, configFile: ALERTMANAGER_CONFIG },
        inventory.templatesDir,
      ),
      mode: '0644',
      ...root,
      notify: [restartAlertmanager],
    },
    {
      kind: 'file',
      path: ALERTMANAGER_CONFIG,
      content: renderTemplate(
        'monitor/alertmanager.yml.ejs',
        { hostName: host.name, webhook: inventory.alerting?.webhook, email: inventory.alerting?.email },
        inventory.templatesDir,
      ),
      mode: '0640',
      ...readByPrometheus,
      notify: [reloadAlertmanager],
    },
    // Prometheus and Alertmanager read only these; the rest is the packages' own.
    ownedFolder(
      inventory,
      CONFIG_DIR,
      ['prometheus.yml', 'infra-rules.yml', 'alertmanager.yml', 'consoles', 'console_libraries', 'alertmanager_templates'],
      [reloadPrometheus, reloadAlertmanager],
    ),
    { kind: 'service', name: PROMETHEUS, enabled: true, running: true },
    { kind: 'service', name: ALERTMANAGER, enabled: true, running: true },
  ];
  const ready = (port: number) => quoteCommand(['curl', '-fsS', '-o', '/dev/null', `http://${host.address}:${port}/-/ready`]);
  return {
    phase: 'monitor',
    resources,
    // Both re-read their config in place on SIGHUP (no new process); promtool and amtool checked it.
    handlers: [
      { id: reloadPrometheus, service: PROMETHEUS, action: 'reload', reloadConfirmation: 'active', healthCheck: ready(ROLE_PORTS.prometheus) },
      { id: restartPrometheus, service: PROMETHEUS, action: 'restart', healthCheck: ready(ROLE_PORTS.prometheus) },
      { id: reloadAlertmanager, service: ALERTMANAGER, action: 'reload', reloadConfirmation: 'active', healthCheck: ready(ROLE_PORTS.alertmanager) },
      { id: restartAlertmanager, service: ALERTMANAGER, action: 'restart', healthCheck: ready(ROLE_PORTS.alertmanager) },
    ],
    validators: [
      { name: 'prometheus config', script: `promtool check config --lint=none ${PROMETHEUS_CONFIG} >/dev/null` },
      { name: 'prometheus rules', script: `promtool check rules --lint=none ${RULES_FILE} >/dev/null` },
      { name: 'alertmanager config', script: `amtool check-config ${ALERTMANAGER_CONFIG} >/dev/null` },
      // Neither daemon checks its flags apart from starting; --help parses them and exits.
      { name: 'prometheus options', script: `. ${PROMETHEUS_DEFAULTS} && ${PROMETHEUS} $ARGS --help >/dev/null 2>&1` },
      { name: 'alertmanager options', script: `. ${ALERTMANAGER_DEFAULTS} && ${ALERTMANAGER} $ARGS --help >/dev/null 2>&1` },
    ],
  };
}

interface FiringAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  state: string;
}

/**
 * On a monitor host: every alert Prometheus has firing, one finding each (what `infra check`
 * lists beside its own runtime checks). Pending alerts are not findings yet, and info alerts
 * (keepalived changed state) say what happened rather than what is wrong.
 */
export function firingAlertsCheck(host: Host): HealthCheck {
  return {
    name: 'alerts',
    script: quoteCommand(['curl', '-fsS', '--max-time', '10', `${prometheusUrl(host)}/api/v1/alerts`]),
    evaluate: (output) => {
      let alerts: FiringAlert[];
      try {
        alerts = (JSON.parse(output) as { data: { alerts: FiringAlert[] } }).data.alerts;
      } catch {
        return { problems: [`Prometheus on ${host.name} gave no alert list: ${output.trim().slice(0, 200) || 'empty'}`] };
      }
      const firing = alerts.filter((alert) => alert.state === 'firing' && alert.labels.severity !== 'info');
      return {
        problems: firing.map((alert) => `alert ${alert.labels.alertname ?? 'unnamed'} firing: ${alert.annotations?.summary ?? JSON.stringify(alert.labels)}`),
        observations: { firing: String(firing.length) },
      };
    },
  };
}

export const monitorRole: RoleDefinition = {
  name: 'monitor',
  // Outside the path of a request, it watches from the clients' side: its phase runs last, once
  // every exporter it scrapes runs, so a first provision raises no alert for one not there yet.
  tier: 0,
  packages: [PROMETHEUS, ALERTMANAGER],
  openings: [
    { port: ROLE_PORTS.prometheus, from: ['admin'], purpose: 'prometheus (admin)' },
    { port: ROLE_PORTS.alertmanager, from: ['admin'], purpose: 'alertmanager (admin)' },
  ],
  secrets: [],
  render: monitorPhase,
  healthChecks: (_inventory, host) => [firingAlertsCheck(host)],
  graphTiers: (inventory) => [{ id: 'monitor', title: 'MONITOR', note: 'Prometheus, Alertmanager', hosts: hostsWithRole(inventory, 'monitor') }],
  lab: {
    hostPrefix: 'mon',
    firstOctet: 51,
    defaultCount: 0,
    countAlone: 1,
    maxCount: 2,
    countHelp: 'monitor hosts, Prometheus and Alertmanager (--monitor alone: 1)',
  },
};
