import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import type { FileResource, PhaseDesire } from '../../src/core/types.js';
import { lbPhase } from '../../src/roles/lb.js';
import { TLS_DIR, webPhase } from '../../src/roles/web.js';
import { hostOf, testInventory, testSecrets } from './roles-fixture.js';

/**
 * The rendered configs checked by the real programs that will read them. These tests need the
 * programs on this machine and fail (never skip) without them, naming what to install.
 */
function requireProgram(program: string, debianPackage: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(`${program} is not installed on this machine, so the rendered config cannot be checked: apt-get install -y ${debianPackage}`);
  }
}

/** Runs a validator; on failure the assertion shows its own output. */
function validate(program: string, args: string[]): void {
  const result = spawnSync(program, args, { encoding: 'utf8' });
  expect(`${program} exit ${result.status}\n${result.stdout}${result.stderr}`).toMatch(new RegExp(`^${program} exit 0\n`));
}

function file(phase: PhaseDesire, path: string): string {
  const found = phase.resources.find((r): r is FileResource => r.kind === 'file' && r.path === path);
  if (!found) throw new Error(`no file ${path}`);
  return found.content;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

// Inventory: the test topology (lb1 lb2 with vip 10.0.0.100/24 on host0, web1 web2, app1 app2).
const inventory = testInventory();
const workDir = () => mkdtempSync(join(tmpdir(), 'infra-validate-'));

describe('rendered configs pass the real validators', () => {
  it('haproxy -c accepts haproxy.cfg of each lb host', () => {
    requireProgram('haproxy', 'haproxy');
    for (const name of ['lb1', 'lb2']) {
      const path = join(workDir(), 'haproxy.cfg');
      writeFileSync(path, file(lbPhase(inventory, hostOf(inventory, name)), '/etc/haproxy/haproxy.cfg'));
      validate('haproxy', ['-c', '-f', path]);
    }
  });

  it('keepalived -t accepts keepalived.conf of each lb host, and rejects a broken one', () => {
    requireProgram('keepalived', 'keepalived');
    // keepalived -t checks that the interface exists, so the VIP goes on one this machine has.
    const local = testInventory();
    const iface =
      readdirSync('/sys/class/net')
        .sort()
        .find((name) => name !== 'lo') ?? 'lo';
    for (const lb of local.hosts) lb.vars = { vrrp_interface: iface };
    for (const name of ['lb1', 'lb2']) {
      const path = join(workDir(), 'keepalived.conf');
      const conf = file(lbPhase(local, hostOf(local, name)), '/etc/keepalived/keepalived.conf');
      writeFileSync(path, conf);
      validate('keepalived', ['-t', '-f', path]);
      writeFileSync(path, conf.replace('unicast_src_ip', 'unicast_source_ip'));
      expect(spawnSync('keepalived', ['-t', '-f', path]).status).not.toBe(0);
    }
  });

  it('nginx -t accepts the site and the stub_status server with a real certificate and key', async () => {
    requireProgram('nginx', 'nginx');
    requireProgram('openssl', 'openssl');
    const dir = workDir();
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${inventory.domain}`,
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const secrets = testSecrets();
    secrets.tls = { certificateChain: readFileSync(cert, 'utf8'), key: new Secret(readFileSync(key, 'utf8')) };
    const phase = webPhase(inventory, hostOf(inventory, 'web1'), secrets);

    // nginx -t binds the listeners: the host's address and ports are swapped for free loopback
    // ports, and the certificate paths for the files made above. Everything else is as rendered.
    let listeners = file(phase, `/etc/nginx/sites-available/${inventory.domain}`) + file(phase, '/etc/nginx/conf.d/infra-stub-status.conf');
    for (const listen of listeners.match(/listen [0-9.]+:\d+/g) ?? []) listeners = listeners.replace(listen, `listen 127.0.0.1:${await freePort()}`);
    listeners = listeners.replaceAll(`${TLS_DIR}/${inventory.domain}.crt`, cert).replaceAll(`${TLS_DIR}/${inventory.domain}.key`, key);
    writeFileSync(join(dir, 'site.conf'), listeners);
    writeFileSync(
      join(dir, 'nginx.conf'),
      [`pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log;`, 'events {}', 'http {', `    access_log off;`, `    include ${dir}/site.conf;`, '}', ''].join(
        '\n',
      ),
    );
    validate('nginx', ['-t', '-q', '-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')]);
  });
});
