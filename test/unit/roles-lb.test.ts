import { guardShell } from '../../src/resources/command.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandResource, FileResource, PhaseDesire } from '../../src/core/types.js';
import { drainWebServerScript, HAPROXY_SOCKET, lbPhase, vrrpFirewallCommand } from '../../src/roles/lb.js';
import { quoteWord } from '../../src/core/shell.js';
import { hostOf, testInventory } from './roles-fixture.js';

function file(phase: PhaseDesire, path: string): FileResource {
  const found = phase.resources.find((r): r is FileResource => r.kind === 'file' && r.path === path);
  if (!found) throw new Error(`no file ${path} in the ${phase.phase} phase`);
  return found;
}

const inventory = testInventory();
const haproxyCfg = (name: string) => file(lbPhase(inventory, hostOf(inventory, name)), '/etc/haproxy/haproxy.cfg').content;
const keepalivedConf = (name: string) => file(lbPhase(inventory, hostOf(inventory, name)), '/etc/keepalived/keepalived.conf').content;

describe('lb role, haproxy (inventory: lb1 lb2, web1 10.0.0.21, web2 10.0.0.22)', () => {
  it('passes TLS through on :443 to every web host on 443, round robin, with PROXY v2 and health checks', () => {
    const cfg = haproxyCfg('lb1');
    const backend = cfg.slice(cfg.indexOf('backend web'), cfg.indexOf('frontend metrics'));
    expect(cfg).toMatch(/frontend https\n\s+#.*\n\s+bind :443\n\s+mode tcp/);
    expect(backend).toMatch(/mode tcp/);
    expect(backend).toMatch(/balance roundrobin/);
    expect(backend).toMatch(/^\s+server web1 10\.0\.0\.21:443$/m);
    expect(backend).toMatch(/^\s+server web2 10\.0\.0\.22:443$/m);
    const defaults = backend.split('\n').find((line) => line.trim().startsWith('default-server')) ?? '';
    expect(defaults.split(/\s+/)).toEqual(expect.arrayContaining(['send-proxy-v2', 'check', 'check-send-proxy']));
    expect(backend).not.toMatch(/ssl crt/); // TLS is not terminated on the lb
  });

  it('redirects :80 to https with a 301', () => {
    expect(haproxyCfg('lb1')).toMatch(/frontend http\n\s+bind :80\n[\s\S]*?http-request redirect scheme https code 301/);
  });

  it('has the local admin socket and serves Prometheus metrics on its own address :8404', () => {
    const cfg = haproxyCfg('lb2');
    expect(cfg).toContain('stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners');
    expect(cfg).toMatch(/bind 10\.0\.0\.12:8404\n[\s\S]*http-request use-service prometheus-exporter if \{ path \/metrics \}/);
  });

  it('validates with haproxy -c and reloads haproxy with a health check', () => {
    const phase = lbPhase(inventory, hostOf(inventory, 'lb1'));
    expect(phase.validators.map((v) => v.script)).toContain('haproxy -c -f /etc/haproxy/haproxy.cfg');
    const reload = phase.handlers.find((h) => h.service === 'haproxy');
    expect(reload).toMatchObject({ action: 'reload' });
    expect(reload?.healthCheck).toContain('/run/haproxy/admin.sock');
    expect(file(phase, '/etc/haproxy/haproxy.cfg').notify).toEqual([reload?.id]);
  });
});

describe('lb role, keepalived (inventory: lb1 then lb2, vip 10.0.0.100/24, vrrp_interface host0)', () => {
  const priority = (conf: string) => Number(/priority (\d+)/.exec(conf)?.[1]);

  it('gives priorities in lb order, and starts every host as BACKUP without preemption, so the VIP stays where it moved', () => {
    const [first, second] = [keepalivedConf('lb1'), keepalivedConf('lb2')];
    expect(priority(first)).toBeGreaterThan(priority(second));
    for (const conf of [first, second]) {
      expect(conf).toMatch(/state BACKUP\n\s+nopreempt\n/);
      expect(conf).not.toMatch(/weight -/);
    }
  });

  it('gives the VIP up as soon as systemd says haproxy stops or died, through a file keepalived watches', () => {
    const phase = lbPhase(inventory, hostOf(inventory, 'lb1'));
    const conf = keepalivedConf('lb1');
    const watched = /track_file haproxy_stopping \{\s+file "([^"]+)"\s+weight 0\s+init_file 0\s+\}/.exec(conf)?.[1];
    expect(watched).toBe('/run/infra-haproxy-stopping');
    expect(conf).toMatch(/track_file \{\s+haproxy_stopping\s+\}/);
    const dropIn = file(phase, '/etc/systemd/system/haproxy.service.d/infra-vip.conf').content;
    expect(dropIn).toContain(`ExecStop=/bin/sh -c 'echo 1 > ${watched}; sleep 1'`);
    expect(dropIn).toContain(`ExecStopPost=/bin/sh -c 'echo 1 > ${watched}'`);
    expect(dropIn).toContain(`ExecStartPost=/bin/sh -c 'echo 0 > ${watched}'`);
    const reload = phase.resources.find((r): r is CommandResource => r.kind === 'command' && r.name === 'systemd loaded haproxy.service.d');
    expect(reload?.script).toBe('systemctl daemon-reload');
    expect(reload?.runsWhenChanged).toEqual(['/etc/systemd/system/haproxy.service.d/infra-vip.conf']);
  });

  it('sends adverts from its own address to the other lb hosts only', () => {
    const conf = keepalivedConf('lb1');
    expect(conf).toMatch(/unicast_src_ip 10\.0\.0\.11/);
    const peers = /unicast_peer \{([^}]*)\}/.exec(conf)?.[1]?.trim().split(/\s+/);
    expect(peers).toEqual(['10.0.0.12']);
  });

  it('puts the VIP with its prefix on the vrrp_interface var, and checks haproxy as root', () => {
    const conf = keepalivedConf('lb2');
    expect(conf).toMatch(/interface host0\n/);
    expect(conf).toContain('10.0.0.100/24 dev host0');
    expect(conf).toMatch(/script_user root/);
    expect(conf).toMatch(/enable_script_security/);
    expect(conf).toMatch(/track_script \{\s+haproxy_running\s+\}/);
  });

  it('defaults the interface to eth0 and refuses an interface name that is not one', () => {
    const plain = testInventory();
    for (const lb of plain.hosts) lb.vars = {};
    expect(file(lbPhase(plain, hostOf(plain, 'lb1')), '/etc/keepalived/keepalived.conf').content).toMatch(/interface eth0\n/);
    hostOf(plain, 'lb1').vars = { vrrp_interface: 'eth0; rm -rf /' };
    expect(() => lbPhase(plain, hostOf(plain, 'lb1'))).toThrow(/vrrp_interface/);
  });

  it('has no keepalived when the inventory has no VIP, and then waits only for the web hosts', () => {
    const noVip = testInventory({ vip: undefined });
    const phase = lbPhase(noVip, hostOf(noVip, 'lb1'));
    expect(phase.resources.some((r) => (r.kind === 'file' || r.kind === 'owned-folder') && r.path.includes('keepalived'))).toBe(false);
    expect(phase.resources.some((r) => r.kind === 'command')).toBe(false);
    expect(phase.ready?.name).toBe('every web host UP in haproxy');
  });

  it('ends a change of an lb host once every web host is UP in its haproxy and the VIP answers on 443', () => {
    const ready = lbPhase(inventory, hostOf(inventory, 'lb2')).ready;
    expect(ready?.name).toBe('every web host UP in haproxy and the VIP 10.0.0.100 answering');
    expect(ready?.script).toContain('/dev/tcp/10.0.0.100/443');
    expect(lbPhase(inventory, hostOf(inventory, 'lb1')).ready).toEqual(ready);
  });

  it('names the web hosts that are not UP yet (a stand-in socat answers `show stat`)', () => {
    const noVip = testInventory({ vip: undefined });
    const script = lbPhase(noVip, hostOf(noVip, 'lb1')).ready?.script ?? 'false';
    const run = (stat: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'infra-socat-'));
      writeFileSync(join(dir, 'socat'), `#!/bin/bash\ncat >/dev/null\nprintf '%s\\n' ${quoteWord(stat)}\n`, { mode: 0o755 });
      const result = spawnSync('bash', ['-c', script], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });
      return { ok: result.status === 0, output: result.stdout.trim() };
    };
    const header = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status';
    const row = (server: string, status: string) => `web,${server},0,0,0,0,,0,0,0,,0,,0,0,0,0,${status}`;
    expect(run([header, row('web1', 'UP'), row('web2', 'UP'), row('BACKEND', 'UP')].join('\n'))).toEqual({ ok: true, output: '' });
    expect(run([header, row('web1', 'UP'), row('web2', 'UP 1/2')].join('\n'))).toEqual({ ok: false, output: 'server web2 is UP 1/2' });
    expect(run([header, row('web1', 'UP')].join('\n'))).toEqual({ ok: false, output: 'server web2 is not listed' });
  });
});

describe('lb role, VRRP through ufw', () => {
  const BEFORE_RULES = [
    '# rules.before',
    '*filter',
    ':ufw-before-input - [0:0]',
    '-A ufw-before-input -i lo -j ACCEPT',
    "# don't delete the 'COMMIT' line or these rules won't be processed",
    'COMMIT',
    '',
  ].join('\n');

  /** Runs the command's script against a copy of before.rules (ufw reload replaced by a no-op). */
  function applyTo(path: string, command: CommandResource) {
    const local = (text: string) => text.replaceAll('/etc/ufw/before.rules', path).replace('ufw reload', 'true');
    const guard = () => {
      try {
        execFileSync('bash', ['-c', local(guardShell(command.unless))]);
        return true;
      } catch {
        return false;
      }
    };
    if (!guard()) execFileSync('bash', ['-c', local(command.script)]);
    return guard();
  }

  it('inserts an accept rule per peer before the filter COMMIT, once, and follows peer changes', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'infra-ufw-')), 'before.rules');
    writeFileSync(path, BEFORE_RULES);
    const command = vrrpFirewallCommand(['10.0.0.12']);
    expect(applyTo(path, command)).toBe(true);
    const once = readFileSync(path, 'utf8');
    expect(once).toMatch(/-A ufw-before-input -p 112 -s 10\.0\.0\.12 -j ACCEPT\n# infra:vrrp end\nCOMMIT\n/);
    expect(applyTo(path, command)).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(once);

    expect(applyTo(path, vrrpFirewallCommand(['10.0.0.13', '10.0.0.14']))).toBe(true);
    const changed = readFileSync(path, 'utf8');
    expect(changed).not.toContain('10.0.0.12');
    expect(changed.match(/-p 112/g)).toHaveLength(2);
    expect(changed.match(/^COMMIT$/gm)).toHaveLength(1);
  });

  it('is part of the lb phase with the other lb hosts as peers', () => {
    const phase = lbPhase(inventory, hostOf(inventory, 'lb2'));
    const command = phase.resources.find((r): r is CommandResource => r.kind === 'command' && r.name === 'ufw allows vrrp from lb peers');
    expect(command?.script).toContain('-s 10.0.0.11 -j ACCEPT');
    expect(command?.script).not.toContain('-s 10.0.0.12 ');
    expect(command?.script).toMatch(/ufw reload$/);
  });
});

describe('draining a web host on an lb host (a stand-in socat answers the runtime API)', () => {
  /** Runs the drain script; `stat` is what `show stat` answers. Returns the commands sent, in order. */
  function drain(stat: string): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'infra-drain-'));
    const socket = join(dir, 'admin.sock');
    const sent = join(dir, 'sent');
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(socket)})`]);
    writeFileSync(
      join(dir, 'socat'),
      `#!/bin/bash\nread -r command; echo "$command" >> ${sent}\n[ "$command" = "show stat" ] && printf '%s' ${quoteWord(stat)}\nexit 0\n`,
      { mode: 0o755 },
    );
    const script = drainWebServerScript('web1').replaceAll(HAPROXY_SOCKET, socket);
    execFileSync('bash', ['-c', script], { env: { PATH: `${dir}:/usr/bin:/bin` } });
    return readFileSync(sent, 'utf8').trim().split('\n');
  }

  it('sets the web host to drain and stops waiting once it holds no session', () => {
    expect(drain('# pxname,svname,qcur,qmax,scur\nweb,web1,0,0,0\n')).toEqual(['set server web/web1 state drain', 'show stat']);
  });

  it("does not wait on an haproxy that does not list the web host yet (its package's own config on a first install)", () => {
    // One look at the stats, not 15 seconds of them.
    expect(drain('# pxname,svname,qcur,qmax,scur\nmain,FRONTEND,0,0,0\n')).toEqual(['set server web/web1 state drain', 'show stat']);
  });
});
