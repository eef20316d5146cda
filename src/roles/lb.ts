import { quoteWord } from '../core/shell.js';
import type { CommandResource, PhaseDesire, ReadyCondition, Resource } from '../core/types.js';
import type { Host, Inventory } from '../inventory/model.js';
import { ROLE_PORTS } from '../inventory/ports.js';
import { MAX_VRRP_HOSTS, PRIORITY_STEP, TOP_PRIORITY } from '../inventory/vrrp.js';
import type { RoleDefinition } from './definition.js';
import { loadBalancerCheck } from './health.js';
import { TEXTFILE_DIR } from './monitoring.js';
import { renderTemplate } from './render.js';
import { hostsWithRole, integerVar, ownedFolder, stringVar } from './topology.js';

const HAPROXY_CFG = '/etc/haproxy/haproxy.cfg';
const KEEPALIVED_CONF = '/etc/keepalived/keepalived.conf';
const VRRP_NOTIFY_SCRIPT = '/etc/keepalived/infra-vrrp-notify.sh';
/** infra_vrrp_master and infra_vrrp_state, which the notify script writes for the node exporter. */
const VRRP_METRICS_FILE = `${TEXTFILE_DIR}/infra_vrrp.prom`;
const UFW_BEFORE_RULES = '/etc/ufw/before.rules';
/** Where systemd tells keepalived that haproxy stops (1) or runs (0); in /run, which only root writes. */
const HAPROXY_STATE_FILE = '/run/infra-haproxy-stopping';
const HAPROXY_DROP_IN_DIR = '/etc/systemd/system/haproxy.service.d';
const HAPROXY_DROP_IN_NAME = 'infra-vip.conf';
export const HAPROXY_SOCKET = '/run/haproxy/admin.sock';

/**
 * keepalived priorities: the first lb host highest, each next one PRIORITY_STEP lower. They only
 * decide which host takes the VIP first: without preemption it then stays until its holder fails.
 */
export function vrrpPriorities(lbCount: number): number[] {
  if (lbCount > MAX_VRRP_HOSTS) throw new Error(`keepalived priorities allow at most ${MAX_VRRP_HOSTS} lb hosts`);
  return Array.from({ length: lbCount }, (_, index) => TOP_PRIORITY - index * PRIORITY_STEP);
}

/**
 * ufw's CLI cannot allow IP protocol 112 (VRRP), so the rules go into before.rules, just before
 * the COMMIT that ends its *filter table, between marker comments (protocol by number: the name
 * "vrrp" needs /etc/protocols, which a minimal image may lack). The begin marker lists the
 * peers: the guard finds it only when the block matches the desired peers exactly, and the script
 * replaces any older block, so it is idempotent and follows peer changes.
 */
export function vrrpFirewallCommand(peers: readonly string[]): CommandResource {
  const begin = `# infra:vrrp begin peers=${peers.join(',')}`;
  const block = [begin, ...peers.map((peer) => `-A ufw-before-input -p 112 -s ${peer} -j ACCEPT`), '# infra:vrrp end'];
  const staged = `${UFW_BEFORE_RULES}.infra-new`;
  // Pass 1 finds the line of the COMMIT closing *filter; pass 2 copies the file without any old
  // infra block and puts the new block before that COMMIT. The block reaches awk through the
  // environment, which (unlike -v) keeps it byte for byte.
  const insert = [
    'BEGIN { block = ENVIRON["INFRA_VRRP_BLOCK"] "\\n" }',
    'NR == FNR { if ($0 == "*filter") f = 1; else if (f && $0 == "COMMIT") { commit = FNR; f = 0 } next }',
    '/^# infra:vrrp begin/ { skip = 1 }',
    'skip { if ($0 == "# infra:vrrp end") skip = 0; next }',
    'FNR == commit { printf "%s", block }',
    '{ print }',
  ].join('\n');
  const script = [
    `INFRA_VRRP_BLOCK=$(printf '%s\\n' ${block.map(quoteWord).join(' ')}) awk ${quoteWord(insert)} ${UFW_BEFORE_RULES} ${UFW_BEFORE_RULES} > ${staged}`,
    // An unexpected before.rules (no *filter COMMIT) leaves the block out: fail rather than go on.
    `grep -qxF ${quoteWord(begin)} ${staged}`,
    `chmod 0640 ${staged}`,
    `mv -f ${staged} ${UFW_BEFORE_RULES}`,
    'ufw reload',
  ].join(' && ');
  return {
    kind: 'command',
    name: 'ufw allows vrrp from lb peers',
    script,
    unless: `grep -qxF ${quoteWord(begin)} ${UFW_BEFORE_RULES}`,
  };
}

/** The backend of the web hosts in haproxy.cfg; its servers are named after the web hosts. */
export const WEB_BACKEND = 'web';

/** How long a drained web host may keep sessions before its change goes ahead anyway. */
const DRAIN_WAIT_SECONDS = 15;

function runtimeCommand(command: string): string {
  return `echo ${quoteWord(command)} | socat stdio ${HAPROXY_SOCKET}`;
}

/**
 * Takes a web host out of rotation on this lb host through the runtime API and waits until it
 * holds no session (or DRAIN_WAIT_SECONDS pass: nginx's own graceful reload finishes what is left).
 * Nothing to do while haproxy is not running yet (first provision: lb comes after web).
 */
export function drainWebServerScript(server: string): string {
  const sessions = `${runtimeCommand('show stat')} | awk -F, -v b=${WEB_BACKEND} -v s=${quoteWord(server)} '$1 == b && $2 == s { print $5 }'`;
  return [
    `if [ -S ${HAPROXY_SOCKET} ]; then`,
    `  ${runtimeCommand(`set server ${WEB_BACKEND}/${server} state drain`)} >/dev/null`,
    // No line for the server (this haproxy does not list it yet: its package's own config) is
    // nothing to wait for, like 0 sessions.
    `  for __i in $(seq ${DRAIN_WAIT_SECONDS * 10}); do __s=$(${sessions}); [ "\${__s:-0}" = 0 ] && break; sleep 0.1; done`,
    'fi',
  ].join('\n');
}

/** Puts a web host back into rotation on this lb host. */
export function readyWebServerScript(server: string): string {
  return `if [ -S ${HAPROXY_SOCKET} ]; then ${runtimeCommand(`set server ${WEB_BACKEND}/${server} state ready`)} >/dev/null; fi`;
}

/**
 * The lb phase: haproxy passing TLS through to every web host, and keepalived holding the VIP
 * (only when the inventory has one). Needs no secrets: TLS is not terminated here.
 */
export function lbPhase(inventory: Inventory, host: Host): PhaseDesire {
  const lbHosts = hostsWithRole(inventory, 'lb');
  const reloadHaproxy = 'reload:haproxy';
  const reloadKeepalived = 'reload:keepalived';
  const haproxyCfg = renderTemplate(
    'lb/haproxy.cfg.ejs',
    {
      domain: inventory.domain,
      address: host.address,
      metricsPort: ROLE_PORTS.haproxyMetrics,
      webServers: hostsWithRole(inventory, 'web').map((web) => ({ name: web.name, address: web.address })),
    },
    inventory.templatesDir,
  );
  const resources: Resource[] = [
    { kind: 'package', name: 'haproxy' },
    { kind: 'package', name: 'socat' },
    { kind: 'file', path: HAPROXY_CFG, content: haproxyCfg, mode: '0644', owner: 'root', group: 'root', notify: [reloadHaproxy] },
    // haproxy reads only haproxy.cfg; `errors` holds the package's own pages.
    ownedFolder(inventory, '/etc/haproxy', ['haproxy.cfg', 'errors'], [reloadHaproxy]),
    { kind: 'service', name: 'haproxy', enabled: true, running: true },
  ];
  const handlers: PhaseDesire['handlers'] = [
    {
      id: reloadHaproxy,
      service: 'haproxy',
      action: 'reload',
      // The Prometheus endpoint is served by the new worker's config; the runtime socket proves
      // the master accepted the reload.
      healthCheck: [
        `echo 'show info' | socat stdio ${HAPROXY_SOCKET} | grep -q '^Pid:'`,
        `curl -fsS -o /dev/null ${quoteWord(`http://${host.address}:${ROLE_PORTS.haproxyMetrics}/metrics`)}`,
      ].join(' && '),
    },
  ];
  const validators = [{ name: 'haproxy config', script: `haproxy -c -f ${HAPROXY_CFG}` }];

  if (inventory.vip !== undefined) {
    const index = lbHosts.findIndex((lb) => lb.name === host.name);
    const priorities = vrrpPriorities(lbHosts.length);
    const peers = lbHosts.filter((lb) => lb.name !== host.name).map((lb) => lb.address);
    const iface = stringVar(host, 'vrrp_interface');
    const keepalivedConf = renderTemplate(
      'lb/keepalived.conf.ejs',
      {
        hostName: host.name,
        address: host.address,
        iface,
        // Must be the same on every lb host and unique among VRRP groups on the network.
        routerId: integerVar(host, 'vrrp_router_id'),
        priority: priorities[index],
        peers,
        vip: inventory.vip,
        vipPrefix: inventory.vipPrefix,
        stateFile: HAPROXY_STATE_FILE,
        dropInName: HAPROXY_DROP_IN_NAME,
        notifyScript: VRRP_NOTIFY_SCRIPT,
      },
      inventory.templatesDir,
    );
    const dropIn = `${HAPROXY_DROP_IN_DIR}/${HAPROXY_DROP_IN_NAME}`;
    resources.push(
      {
        kind: 'file',
        path: dropIn,
        content: renderTemplate('lb/haproxy-vip.conf.ejs', { stateFile: HAPROXY_STATE_FILE }, inventory.templatesDir),
        mode: '0644',
        owner: 'root',
        group: 'root',
      },
      {
        kind: 'command',
        name: 'systemd loaded haproxy.service.d',
        script: 'systemctl daemon-reload',
        // systemd lists a drop-in once it has read it, and says when one changed since.
        unless: `__unit=$(systemctl show -p DropInPaths,NeedDaemonReload haproxy.service) && [[ $__unit == *${quoteWord(dropIn)}* && $__unit == *NeedDaemonReload=no* ]]`,
        // Read before the drop-in is written, the guard cannot see that it changes.
        runsWhenChanged: [dropIn],
      },
      { kind: 'package', name: 'keepalived' },
      {
        kind: 'file',
        path: VRRP_NOTIFY_SCRIPT,
        content: renderTemplate('lb/infra-vrrp-notify.sh.ejs', { vip: inventory.vip, metricsFile: VRRP_METRICS_FILE }, inventory.templatesDir),
        // keepalived's script security runs only scripts no other user can change.
        mode: '0755',
        owner: 'root',
        group: 'root',
      },
      { kind: 'file', path: KEEPALIVED_CONF, content: keepalivedConf, mode: '0644', owner: 'root', group: 'root', notify: [reloadKeepalived] },
      // The package's own files stay: its sample, and the build options keepalived 2.3 (Debian 13)
      // reads at every start and config test (without them `keepalived -t` fails).
      ownedFolder(
        inventory,
        '/etc/keepalived',
        ['keepalived.conf', 'keepalived.conf.sample', 'keepalived.config-opts', 'infra-vrrp-notify.sh'],
        [reloadKeepalived],
      ),
      { kind: 'service', name: 'keepalived', enabled: true, running: true },
      // keepalived reports only changes: a host that held its state before the script was there
      // gets its state written once, readable by the node exporter.
      {
        kind: 'command',
        name: 'the VIP state written for the node exporter',
        script: VRRP_NOTIFY_SCRIPT,
        unless: `[ "$(stat -c %a ${VRRP_METRICS_FILE} 2>/dev/null)" = 644 ]`,
      },
    );
    if (peers.length > 0) resources.push(vrrpFirewallCommand(peers));
    handlers.push({
      id: reloadKeepalived,
      service: 'keepalived',
      action: 'reload',
      // keepalived re-reads its config in its running processes: no new workers to wait for.
      reloadConfirmation: 'active',
      healthCheck: 'systemctl is-active --quiet keepalived.service',
    });
    validators.push({ name: 'keepalived config', script: `keepalived -t -f ${KEEPALIVED_CONF}` });
  }
  // One lb host at a time, backups before the master, so the VIP always has a host serving.
  const rank = -lbHosts.findIndex((lb) => lb.name === host.name);
  const ready = lbReady(
    inventory.vip,
    hostsWithRole(inventory, 'web').map((web) => web.name),
  );
  return { phase: 'lb', resources, handlers, validators, serial: true, rank, ready };
}

/** keepalived elects a holder about 4 s after it starts; a new haproxy checks each server twice, 2 s apart. */
const LB_READY_SECONDS = 20;

/**
 * What an lb host the run changed waits for, so that the run ends with the fleet serving: every
 * web host UP in this haproxy (a reload starts the checks anew; `check` right after would find
 * servers still rising), and the VIP answering on 443 from whichever host holds it (a client
 * connecting while keepalived still elects gets a reset). The output names what is missing.
 */
export function lbReady(vip: string | undefined, webServers: readonly string[]): ReadyCondition {
  const program = [
    'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) need[w[i]] = 1 }',
    `$1 == "${WEB_BACKEND}" && ($2 in need) { status[$2] = $18 }`,
    // `in` first: reading status[s] would create the entry.
    'END { for (s in need) { if (!(s in status)) state = "not listed"; else if (status[s] != "UP") state = status[s]; else continue; print "server " s " is " state; bad = 1 } exit bad }',
  ].join('\n');
  const notUp = `${runtimeCommand('show stat')} | awk -F, -v want=${quoteWord(webServers.join(' '))} ${quoteWord(program)}`;
  const vipAnswers =
    vip === undefined ? [] : [`timeout 2 bash -c ${quoteWord(`exec 3<>/dev/tcp/${vip}/443`)} || { echo "the VIP ${vip} does not answer on 443"; false; }`];
  const name = vip === undefined ? 'every web host UP in haproxy' : `every web host UP in haproxy and the VIP ${vip} answering`;
  return { name, script: [notUp, ...vipAnswers].join(' && '), seconds: LB_READY_SECONDS };
}

export const lbRole: RoleDefinition = {
  name: 'lb',
  tier: 1,
  packages: ['haproxy', 'keepalived', 'socat'],
  openings: [
    { port: 80, from: ['clients'], purpose: 'http (clients)' },
    { port: 443, from: ['clients'], purpose: 'https (clients)' },
    { port: ROLE_PORTS.haproxyMetrics, from: ['monitoring'], purpose: 'haproxy metrics (monitoring)', job: 'haproxy' },
  ],
  // TLS is not terminated here.
  secrets: [],
  render: lbPhase,
  healthChecks: (inventory) => [loadBalancerCheck(inventory.vip, HAPROXY_SOCKET, WEB_BACKEND)],
  graphTiers: (inventory) => [{ id: 'lb', title: 'LB', note: 'HAProxy, keepalived', hosts: hostsWithRole(inventory, 'lb') }],
  lab: {
    firstOctet: 11,
    defaultCount: 2,
    maxCount: 10,
    countHelp: 'load balancer hosts (0 or 2+)',
    countProblem: (count) => (count === 1 ? '--lb 1: the VIP needs two lb hosts (keepalived master and backup); use --lb 2 or --lb 0' : undefined),
  },
};
