import { quoteCommand, quoteWord } from '../core/shell.js';
import type { CommandResource, PhaseDesire, Resource } from '../core/types.js';
import type { Host, Inventory } from '../inventory/model.js';
import { ROLE_PORTS } from '../inventory/ports.js';
import type { RoleDefinition } from './definition.js';
import { servedCertificateCheck } from './health.js';
import { TEXTFILE_DIR } from './monitoring.js';
import { drainWebServerScript, readyWebServerScript } from './lb.js';
import { renderTemplate } from './render.js';
import { requireTls, type RoleSecrets } from './secrets.js';
import { hostsWithRole, ownedFolder } from './topology.js';

export const TLS_DIR = '/etc/ssl/infra';
/** nginx's loopback-only TLS listener without PROXY protocol, for health checks on the host. */
export const LOCAL_TLS_PORT = 8443;
/**
 * What `infra rotate-certs` keeps beside a TLS file while it rolls a web host: the previous file
 * (to restore on a failure) and the copy a restore stages. Both go once the host serves a pair.
 */
export const ROTATION_PREVIOUS_SUFFIX = '.infra-previous';
export const ROTATION_RESTORE_SUFFIX = '.infra-restore';
/** How long nginx keeps an app host out of rotation after a failed request to it. */
export const APP_FAIL_TIMEOUT_SECONDS = 5;
const STUB_STATUS_PORT = 8080;
const EXPORTER = 'prometheus-nginx-exporter';
const EXPORTER_DEFAULTS = `/etc/default/${EXPORTER}`;
const STATUS_LOG = '/var/log/nginx/infra-status.log';
const STATUS_LOG_CONF = 'infra-status-log.conf';
const MTAIL = 'mtail';
const MTAIL_DEFAULTS = `/etc/default/${MTAIL}`;
const MTAIL_PROGRAM = 'infra-nginx.mtail';

/** When the served certificate expires, for the node exporter: the monitor hosts alert 21 days ahead. */
const CERTIFICATE_METRICS_FILE = `${TEXTFILE_DIR}/infra_tls.prom`;
export const CERTIFICATE_METRICS_COMMAND = "the certificate's expiry written for the node exporter";

/**
 * Writes infra_tls_certificate_not_after_seconds from the deployed certificate; its guard holds
 * while the file says what the certificate does, so a certificate changed since (a rotation)
 * rewrites it on the next run.
 */
export function certificateMetricsCommand(certificateFile: string, domain: string): CommandResource {
  const metrics = [
    `__end=$(openssl x509 -enddate -noout -in ${quoteWord(certificateFile)}) && __t=$(date -d "\${__end#notAfter=}" +%s) &&`,
    `printf '%s\n' '# HELP infra_tls_certificate_not_after_seconds When the certificate nginx serves expires (Unix time).'`,
    `'# TYPE infra_tls_certificate_not_after_seconds gauge' "infra_tls_certificate_not_after_seconds{domain=\\"${domain}\\"} $__t"`,
  ].join(' ');
  return {
    kind: 'command',
    name: CERTIFICATE_METRICS_COMMAND,
    // Readable by the node exporter, which runs as prometheus, whatever infra's umask.
    script: `{ ${metrics}; } > ${CERTIFICATE_METRICS_FILE}.new && chmod 0644 ${CERTIFICATE_METRICS_FILE}.new && mv -f ${CERTIFICATE_METRICS_FILE}.new ${CERTIFICATE_METRICS_FILE}`,
    unless: `__want=$(${metrics}) && [ "$__want" = "$(cat ${CERTIFICATE_METRICS_FILE} 2>/dev/null)" ]`,
    // The guard was read against the certificate before the run: a new one rewrites the metric.
    runsWhenChanged: [certificateFile],
  };
}

/** The certificate chain nginx serves for the domain. */
function webCertificateFile(inventory: Inventory): string {
  return `${TLS_DIR}/${inventory.domain}.crt`;
}

/**
 * The web phase: nginx terminating TLS for the domain (connections arrive from the lb hosts with
 * a PROXY v2 header) and proxying to every app host, plus its Prometheus exporter.
 */
export function webPhase(inventory: Inventory, host: Host, secrets: RoleSecrets): PhaseDesire {
  const tls = requireTls(secrets, host.name);
  const domain = inventory.domain;
  const certificateFile = webCertificateFile(inventory);
  const keyFile = `${TLS_DIR}/${domain}.key`;
  const caFile = `${TLS_DIR}/ca.crt`;
  const siteFile = `/etc/nginx/sites-available/${domain}`;
  const reloadNginx = 'reload:nginx';
  const restartExporter = `restart:${EXPORTER}`;
  const restartMtail = `restart:${MTAIL}`;
  const appServers = hostsWithRole(inventory, 'app').map((app) => `${app.address}:${inventory.app.port}`);
  if (appServers.length === 0) throw new Error(`${host.name}: a web host needs at least one app host to proxy to`);

  const site = renderTemplate(
    'web/site.conf.ejs',
    {
      domain,
      address: host.address,
      localTlsPort: LOCAL_TLS_PORT,
      lbAddresses: hostsWithRole(inventory, 'lb').map((lb) => lb.address),
      appServers,
      failTimeoutSeconds: APP_FAIL_TIMEOUT_SECONDS,
      certificateFile,
      keyFile,
    },
    inventory.templatesDir,
  );
  const root = { owner: 'root', group: 'root' };
  const resources: Resource[] = [
    { kind: 'package', name: 'nginx' },
    { kind: 'package', name: EXPORTER },
    { kind: 'package', name: MTAIL },
    { kind: 'directory', path: TLS_DIR, mode: '0755', ...root },
    { kind: 'file', path: certificateFile, content: tls.certificateChain, mode: '0644', ...root, notify: [reloadNginx] },
    { kind: 'file', path: keyFile, content: tls.key.reveal(), mode: '0600', ...root, secrets: [tls.key], notify: [reloadNginx] },
  ];
  if (tls.caCertificate !== undefined) {
    resources.push({ kind: 'file', path: caFile, content: tls.caCertificate, mode: '0644', ...root });
  }
  // A rotation removes its copies once the host serves the new pair; one cut short, or an infra
  // from before it did, left them, the old private key among them.
  for (const path of [certificateFile, keyFile, caFile]) {
    resources.push({ kind: 'absent', path: path + ROTATION_PREVIOUS_SUFFIX }, { kind: 'absent', path: path + ROTATION_RESTORE_SUFFIX });
  }
  resources.push(
    { kind: 'file', path: siteFile, content: site, mode: '0644', ...root, notify: [reloadNginx] },
    { kind: 'symlink', path: `/etc/nginx/sites-enabled/${domain}`, target: siteFile, notify: [reloadNginx] },
    // The distribution's default site would answer on :80 with its welcome page.
    { kind: 'absent', path: '/etc/nginx/sites-enabled/default', notify: [reloadNginx] },
    {
      kind: 'file',
      path: '/etc/nginx/conf.d/infra-stub-status.conf',
      content: renderTemplate('web/stub-status.conf.ejs', { port: STUB_STATUS_PORT }, inventory.templatesDir),
      mode: '0644',
      ...root,
      notify: [reloadNginx],
    },
    {
      kind: 'file',
      path: EXPORTER_DEFAULTS,
      content: renderTemplate(
        'web/prometheus-nginx-exporter.default.ejs',
        { address: host.address, port: ROLE_PORTS.nginxExporter, scrapeUri: `http://127.0.0.1:${STUB_STATUS_PORT}/stub_status` },
        inventory.templatesDir,
      ),
      mode: '0644',
      ...root,
      notify: [restartExporter],
    },
    {
      kind: 'file',
      path: `/etc/nginx/conf.d/${STATUS_LOG_CONF}`,
      content: renderTemplate('web/infra-status-log.conf.ejs', { logFile: STATUS_LOG }, inventory.templatesDir),
      mode: '0644',
      ...root,
      notify: [reloadNginx],
    },
    {
      kind: 'file',
      path: `/etc/mtail/${MTAIL_PROGRAM}`,
      content: renderTemplate('web/infra-nginx.mtail.ejs', { logFile: STATUS_LOG }, inventory.templatesDir),
      mode: '0644',
      ...root,
      notify: [restartMtail],
    },
    {
      kind: 'file',
      path: MTAIL_DEFAULTS,
      content: renderTemplate('web/mtail.default.ejs', { logFile: STATUS_LOG, address: host.address, port: ROLE_PORTS.mtail }, inventory.templatesDir),
      mode: '0644',
      ...root,
      notify: [restartMtail],
    },
    ownedFolder(inventory, '/etc/nginx/sites-enabled', [domain], [reloadNginx]),
    ownedFolder(inventory, '/etc/nginx/conf.d', ['infra-stub-status.conf', STATUS_LOG_CONF], [reloadNginx]),
    // mtail runs every program in its folder; the package's README is not one.
    ownedFolder(inventory, '/etc/mtail', ['README', MTAIL_PROGRAM], [restartMtail]),
    { kind: 'service', name: 'nginx', enabled: true, running: true },
    { kind: 'service', name: EXPORTER, enabled: true, running: true },
    { kind: 'service', name: MTAIL, enabled: true, running: true },
    certificateMetricsCommand(certificateFile, domain),
  );

  // The health check goes through the loopback listener, with the domain's name resolved to it so
  // that SNI and the certificate's name are checked as a client would see them; the chain is
  // verified against infra's CA when infra issued the certificate.
  const verify = tls.caCertificate !== undefined ? ['--cacert', caFile] : ['--insecure'];
  const healthCheck = quoteCommand([
    'curl',
    '-fsS',
    '-o',
    '/dev/null',
    ...verify,
    '--resolve',
    `${domain}:${LOCAL_TLS_PORT}:127.0.0.1`,
    `https://${domain}:${LOCAL_TLS_PORT}/health`,
  ]);
  return {
    phase: 'web',
    resources,
    handlers: [
      { id: reloadNginx, service: 'nginx', action: 'reload', healthCheck },
      {
        id: restartExporter,
        service: EXPORTER,
        action: 'restart',
        healthCheck: quoteCommand(['curl', '-fsS', '-o', '/dev/null', `http://${host.address}:${ROLE_PORTS.nginxExporter}/metrics`]),
      },
      {
        id: restartMtail,
        service: MTAIL,
        action: 'restart',
        healthCheck: quoteCommand(['curl', '-fsS', '-o', '/dev/null', `http://${host.address}:${ROLE_PORTS.mtail}/metrics`]),
      },
    ],
    validators: [
      { name: 'nginx config', script: 'nginx -t -q' },
      // The exporter has no config check; its flags are parsed by --help, which exits before serving.
      { name: 'nginx exporter options', script: `. ${EXPORTER_DEFAULTS} && ${EXPORTER} $ARGS --help >/dev/null` },
      // Compiles the programs and exits; on a port of its own choosing, since the running mtail holds its port.
      { name: 'mtail programs', script: `${MTAIL} --compile_only --progs /etc/mtail --address 127.0.0.1 --port 0 >/dev/null 2>&1` },
    ],
    // Web hosts change one at a time, each drained in HAProxy on every lb host first and put back
    // once healthy, so clients never reach a web host while it reloads.
    serial: true,
    rolling: {
      peers: hostsWithRole(inventory, 'lb').map((lb) => lb.name),
      before: drainWebServerScript(host.name),
      after: readyWebServerScript(host.name),
    },
  };
}

export const webRole: RoleDefinition = {
  name: 'web',
  tier: 2,
  // openssl: the certificate check and `infra rotate-certs` run it on web hosts.
  // mtail: nginx's responses by status, for the monitor hosts' 5xx ratio.
  packages: ['nginx', EXPORTER, MTAIL, 'openssl'],
  openings: [
    { port: 443, from: [{ role: 'lb' }], purpose: 'https (lb)' },
    { port: ROLE_PORTS.nginxExporter, from: ['monitoring'], purpose: 'nginx exporter (monitoring)', job: 'nginx' },
    { port: ROLE_PORTS.mtail, from: ['monitoring'], purpose: 'mtail (monitoring)', job: 'mtail' },
  ],
  secrets: ['tls'],
  render: webPhase,
  healthChecks: (inventory) => [servedCertificateCheck(webCertificateFile(inventory), LOCAL_TLS_PORT, inventory.domain)],
  graphTiers: (inventory) => [{ id: 'web', title: 'WEB', note: 'nginx, TLS', hosts: hostsWithRole(inventory, 'web') }],
  lab: { firstOctet: 21, overflowFirstOctet: 111, defaultCount: 2, maxCount: 50, countHelp: 'web hosts' },
};
