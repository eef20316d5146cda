import { describe, expect, it } from 'vitest';
import type { FileResource, PhaseDesire } from '../../src/core/types.js';
import { webPhase } from '../../src/roles/web.js';
import { CLEAR, hostOf, testInventory, testSecrets } from './roles-fixture.js';

// Inventory: domain www.foobar.com, lb1 10.0.0.11 + lb2 10.0.0.12, app1 10.0.0.31 + app2 10.0.0.32 on :8000.
const inventory = testInventory();
const phase = webPhase(inventory, hostOf(inventory, 'web1'), testSecrets());

function file(desire: PhaseDesire, path: string): FileResource {
  const found = desire.resources.find((r): r is FileResource => r.kind === 'file' && r.path === path);
  if (!found) throw new Error(`no file ${path}`);
  return found;
}
const site = file(phase, '/etc/nginx/sites-available/www.foobar.com').content;

describe('web role, nginx site for www.foobar.com on web1', () => {
  it('listens on its address :443 with TLS, HTTP/2 and PROXY protocol, trusting the lb hosts for the client address', () => {
    expect(site).toMatch(/listen 10\.0\.0\.21:443 ssl http2 proxy_protocol;/);
    expect(site).toMatch(/set_real_ip_from 10\.0\.0\.11;\s+set_real_ip_from 10\.0\.0\.12;/);
    expect(site).toMatch(/real_ip_header proxy_protocol;/);
  });

  it('allows only TLS 1.2 and 1.3 and sends HSTS', () => {
    expect(site.match(/ssl_protocols [^;]*;/g)).toEqual(['ssl_protocols TLSv1.2 TLSv1.3;']);
    expect(site).not.toMatch(/SSLv|TLSv1(\.1)?[ ;]/);
    expect(site).toMatch(/add_header Strict-Transport-Security "max-age=\d{8,}[^"]*" always;/);
  });

  it('answers /health itself and proxies / to every app host with failover', () => {
    const health = /location = \/health \{([^}]*)\}/.exec(site)?.[1] ?? '';
    expect(health).toMatch(/return 200/);
    expect(health).not.toMatch(/proxy_pass/);
    expect(site).toMatch(/upstream app \{\s+server 10\.0\.0\.31:8000 max_fails=1 fail_timeout=5s;\s+server 10\.0\.0\.32:8000 max_fails=1 fail_timeout=5s;/);
    expect(site).toMatch(/proxy_pass http:\/\/app;/);
    expect(site).toMatch(/proxy_next_upstream error timeout http_502 http_504;/);
    expect(site).toMatch(/proxy_next_upstream_tries 2;/);
    for (const header of ['Host', 'X-Real-IP', 'X-Forwarded-For']) expect(site).toMatch(new RegExp(`proxy_set_header ${header} `));
  });

  it('has a loopback listener without PROXY protocol that the reload health check uses', () => {
    expect(site).toMatch(/listen 127\.0\.0\.1:8443 ssl http2;/);
    const reload = phase.handlers.find((h) => h.service === 'nginx');
    expect(reload?.action).toBe('reload');
    expect(reload?.healthCheck).toContain('--resolve www.foobar.com:8443:127.0.0.1 https://www.foobar.com:8443/health');
    expect(reload?.healthCheck).toContain('--cacert /etc/ssl/infra/ca.crt');
  });

  it('enables the site, removes the default site and validates with nginx -t', () => {
    expect(phase.resources).toContainEqual(
      expect.objectContaining({ kind: 'symlink', path: '/etc/nginx/sites-enabled/www.foobar.com', target: '/etc/nginx/sites-available/www.foobar.com' }),
    );
    expect(phase.resources).toContainEqual(expect.objectContaining({ kind: 'absent', path: '/etc/nginx/sites-enabled/default' }));
    expect(phase.validators.map((v) => v.script)).toContain('nginx -t -q');
  });
});

describe('web role, certificate and key', () => {
  it('removes every copy a certificate rotation keeps while it rolls (the old key among them), so none outlives a rotation', () => {
    const absent = phase.resources.filter((r) => r.kind === 'absent' && r.path.startsWith('/etc/ssl/infra/')).map((r) => (r as { path: string }).path);
    expect(absent.sort()).toEqual(
      ['ca.crt', 'www.foobar.com.crt', 'www.foobar.com.key']
        .flatMap((name) => [`/etc/ssl/infra/${name}.infra-previous`, `/etc/ssl/infra/${name}.infra-restore`])
        .sort(),
    );
  });

  it('writes the key 0600 root with its secret listed, and the certificate 0644', () => {
    const key = file(phase, '/etc/ssl/infra/www.foobar.com.key');
    expect(key).toMatchObject({ mode: '0600', owner: 'root', group: 'root', content: CLEAR.tlsKey });
    expect(key.secrets?.map((s) => s.reveal())).toEqual([CLEAR.tlsKey]);
    expect(file(phase, '/etc/ssl/infra/www.foobar.com.crt').mode).toBe('0644');
    expect(site).toMatch(/ssl_certificate \/etc\/ssl\/infra\/www\.foobar\.com\.crt;\s+ssl_certificate_key \/etc\/ssl\/infra\/www\.foobar\.com\.key;/);
  });

  it('never puts the key in another file', () => {
    for (const resource of phase.resources) {
      if (resource.kind === 'file' && !resource.path.endsWith('.key')) expect(resource.content).not.toContain('TEST-KEY-MATERIAL');
    }
  });

  it('skips chain verification in the health check only when no CA certificate is given', () => {
    const secrets = testSecrets();
    delete secrets.tls?.caCertificate;
    const withoutCa = webPhase(inventory, hostOf(inventory, 'web1'), secrets);
    expect(withoutCa.handlers.find((h) => h.service === 'nginx')?.healthCheck).toContain('--insecure');
    expect(withoutCa.resources.some((r) => r.kind === 'file' && r.path.endsWith('ca.crt'))).toBe(false);
  });

  it('refuses to render without the TLS material', () => {
    expect(() => webPhase(inventory, hostOf(inventory, 'web1'), {})).toThrow(/TLS/);
  });
});

describe('web role, nginx exporter', () => {
  it('reads stub_status on loopback and listens on the host address :9113', () => {
    expect(file(phase, '/etc/nginx/conf.d/infra-stub-status.conf').content).toMatch(
      /listen 127\.0\.0\.1:8080;[\s\S]*location = \/stub_status \{\s+stub_status;/,
    );
    expect(file(phase, '/etc/default/prometheus-nginx-exporter').content).toContain(
      'ARGS="--web.listen-address=10.0.0.21:9113 --nginx.scrape-uri=http://127.0.0.1:8080/stub_status"',
    );
    expect(phase.handlers).toContainEqual(expect.objectContaining({ service: 'prometheus-nginx-exporter', action: 'restart' }));
  });
});
