import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { nativePasswordHash } from '../../src/roles/sql.js';
import { LAB_DIR, LAB_INVENTORY, labHosts, mustOnHost, onHost, runInfra, type LabHost, told } from './helpers.js';
import { getSite, startLoad, type SiteTarget } from './load.js';
import { trustBundle } from '../../src/tls/ca.js';

/**
 * The database speaks TLS, on the stack 50-db-failover leaves (db1 primary, db2 replica; built
 * here first when this file runs alone): a deployment as it was before (native accounts,
 * replication in clear, clear clients allowed) converges in one provision under load with no
 * failed request; then db2 replicates over TLS with the primary's certificate verified, a TCP
 * client without TLS is refused, the app's credentials and CA file connect with TLS only, the
 * accounts use ed25519 (the exporter's aside: its driver cannot), the exporter holds exactly
 * the privileges it reads and still reports. It ends converged, check exit 0.
 */
let hosts: LabHost[];
let site: SiteTarget;
let trusted: string[];
let db1: LabHost;
let db2: LabHost;
let apps: LabHost[];

const host = (name: string) => hosts.find((h) => h.name === name) as LabHost;

/** Runs SQL as root over the server's socket; the text goes on stdin, quoted for the remote shell. */
async function sql(target: LabHost, query: string): Promise<string> {
  const quoted = `'${query.replace(/'/g, `'\\''`)}'`;
  return (await mustOnHost(target.address, `mysql -N -B <<< ${quoted}`)).trim();
}

function field(status: string, name: string): string {
  return new RegExp(`^\\s*${name}: (.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
}

async function checkExit(): Promise<{ code: number; output: string }> {
  const result = await runInfra(['check', LAB_INVENTORY]);
  return { code: result.code, output: result.stdout + result.stderr };
}

/**
 * A Python client on an app host with the app's own settings (/etc/app/app.env, systemd's quoting
 * is the shell's), connecting to `address` with or without TLS; prints the cipher or the error.
 */
function appClient(address: string, tls: boolean): string {
  const ssl = tls ? `ssl={"ca": os.environ["DB_SSL_CA"]}` : 'ssl=None';
  const python = [
    'import os, pymysql',
    'try:',
    `    c = pymysql.connect(host=${JSON.stringify(address)}, user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"], database=os.environ["DB_NAME"], ${ssl}, connect_timeout=5)`,
    '    cur = c.cursor()',
    '    cur.execute("SHOW SESSION STATUS LIKE \'Ssl_cipher\'")',
    '    print("cipher=" + (cur.fetchone()[1] or ""))',
    'except pymysql.MySQLError as error:',
    '    print("error=%d %s" % (error.args[0], error.args[1]))',
  ].join('\n');
  return `set -a && . /etc/app/app.env && set +a && python3 <<'PY'\n${python}\nPY`;
}

beforeAll(async () => {
  hosts = await labHosts();
  db1 = host('db1');
  db2 = host('db2');
  apps = hosts.filter((h) => h.roles.includes('app'));
  const lab = parse(await readFile(LAB_INVENTORY, 'utf8')) as { vip: string; domain: string; db: { primary: string; replicas: string[] } };
  expect(lab.db, 'the lab inventory as 50-db-failover leaves it').toMatchObject({ primary: 'db1', replicas: ['db2'] });
  site = { address: lab.vip, domain: lab.domain, ca: '' };
  const provisioned = await runInfra(['provision', LAB_INVENTORY, '--yes']);
  expect(provisioned.code, told(provisioned)).toBe(0);
  site.ca = await readFile(join(LAB_DIR, '.infra', 'ca', 'ca.crt'), 'utf8');
  // What db clients trust: infra's CA and the one a rotation left (40-rotate-certs rotates it).
  const previous = await readFile(join(LAB_DIR, '.infra', 'ca', 'ca-previous.crt'), 'utf8').catch(() => undefined);
  trusted = [site.ca, ...(previous ? [previous] : [])];
});

describe('an existing deployment without db TLS', () => {
  it('converges in one provision under load, no request failing: accounts moved by ALTER USER, replication re-pointed over TLS, TLS then required', async () => {
    // The state before this change: native accounts (hashes of the real passwords, so the app
    // still logs in), db2 replicating in clear, clear TCP clients allowed after a restart too.
    const state = join(LAB_DIR, '.infra', 'secrets');
    const secret = async (name: string) => (await readFile(join(state, name), 'utf8')).split('\n')[0] as string;
    const appHash = nativePasswordHash(await secret('db.password'));
    const replicationHash = nativePasswordHash(await secret('db.replication_password'));
    const alters = [
      ...apps.map((app) => `ALTER USER 'app'@'${app.address}' IDENTIFIED VIA mysql_native_password USING '${appHash}';`),
      ...[db1, db2].map((db) => `ALTER USER 'repl'@'${db.address}' IDENTIFIED VIA mysql_native_password USING '${replicationHash}';`),
    ];
    await sql(db1, alters.join('\n'));
    await sql(db2, 'STOP SLAVE; CHANGE MASTER TO MASTER_SSL = 0, MASTER_SSL_VERIFY_SERVER_CERT = 0; START SLAVE;');
    for (const db of [db1, db2]) {
      await mustOnHost(db.address, 'rm /etc/mysql/mariadb.conf.d/62-infra-secure-transport.cnf');
      await sql(db, 'SET GLOBAL require_secure_transport = OFF;');
    }
    expect(await sql(db1, "SELECT COUNT(*) FROM mysql.user WHERE plugin = 'mysql_native_password' AND User IN ('app', 'repl')")).toBe(String(apps.length + 2));
    expect(field(await mustOnHost(db2.address, 'mysql -e "SHOW SLAVE STATUS\\G"'), 'Master_SSL_Allowed')).toBe('No');
    expect((await getSite(site)).status).toBe(200);

    const load = startLoad(site, 20);
    await new Promise((r) => setTimeout(r, 2000));
    const result = await runInfra(['provision', LAB_INVENTORY, '--yes']);
    await new Promise((r) => setTimeout(r, 2000));
    const traffic = await load.stop();
    process.stderr.write(
      `[db-tls convergence] ${traffic.sent} requests in ${traffic.seconds.toFixed(1)} s, ${traffic.failed} failed\n` +
        traffic.failures.slice(0, 5).join('\n') +
        '\n',
    );
    expect(result.code, told(result)).toBe(0);
    expect(traffic.sent).toBeGreaterThan(0);
    expect(traffic.failed, traffic.failures.slice(0, 5).join('\n')).toBe(0);
    const checked = await checkExit();
    expect(checked.code, checked.output).toBe(0);
  });
});

describe('the database speaks TLS', () => {
  it('requires TLS of TCP clients on every db host, live and in the file a restart reads', async () => {
    for (const db of [db1, db2]) {
      expect(await sql(db, 'SELECT @@GLOBAL.require_secure_transport + 0, @@GLOBAL.have_ssl, @@GLOBAL.ssl_ca')).toBe('1\tYES\t/etc/mysql/infra-ca.crt');
      expect(await mustOnHost(db.address, 'cat /etc/mysql/mariadb.conf.d/62-infra-secure-transport.cnf')).toMatch(/^require_secure_transport = ON$/m);
    }
  });

  it("the replica replicates over TLS, the primary's certificate verified against infra's CAs (the current one and the one a rotation left)", async () => {
    const status = await mustOnHost(db2.address, 'mysql -e "SHOW SLAVE STATUS\\G"');
    expect(field(status, 'Master_Host')).toBe(db1.address);
    expect(field(status, 'Master_SSL_Allowed')).toBe('Yes');
    expect(field(status, 'Master_SSL_Verify_Server_Cert')).toBe('Yes');
    expect(field(status, 'Master_SSL_CA_File')).toBe('/etc/mysql/infra-ca.crt');
    expect(`${field(status, 'Slave_IO_Running')}/${field(status, 'Slave_SQL_Running')}`).toBe('Yes/Yes');
    // The certificate it checked: issued by infra's CA, naming db1's name and address.
    const certificate = new X509Certificate(await mustOnHost(db1.address, 'cat /etc/mysql/infra-server.crt'));
    expect(certificate.subjectAltName).toBe(`DNS:db1, IP Address:${db1.address}`);
    expect(trusted.some((ca) => certificate.verify(new X509Certificate(ca).publicKey))).toBe(true);
    expect(await mustOnHost(db2.address, 'cat /etc/mysql/infra-ca.crt')).toBe(trustBundle(trusted));
  });

  it("the app's credentials connect only with TLS: without it the server refuses, with it the session has a cipher", async () => {
    for (const app of apps) {
      for (const db of [db1, db2]) {
        const clear = (await mustOnHost(app.address, appClient(db.address, false))).trim();
        // MariaDB 10.11 refuses a clear connection under require_secure_transport as a failed login
        // (1045; the same credentials got in without TLS once it was OFF, checked by hand).
        expect(clear, `${app.name} → ${db.name} without TLS`).toMatch(/^error=1045 Access denied/);
        const secure = (await mustOnHost(app.address, appClient(db.address, true))).trim();
        expect(secure, `${app.name} → ${db.name} with TLS`).toMatch(/^cipher=\S+/);
      }
      expect(await mustOnHost(app.address, 'cat /etc/app/app.env')).toContain('DB_SSL_CA="/etc/app/db-ca.crt"');
      expect(await mustOnHost(app.address, 'cat /etc/app/db-ca.crt')).toBe(trustBundle(trusted));
    }
    // The site itself works, every query of the app over TLS.
    const answer = await getSite(site);
    expect(answer.status).toBe(200);
  });

  it("infra's accounts use ed25519, the exporter's aside (Debian 12's exporter cannot speak it; socket only)", async () => {
    const plugins = (
      await sql(db1, "SELECT CONCAT(User, '@', Host, ' ', plugin) FROM mysql.user WHERE User IN ('app', 'repl', 'exporter') ORDER BY User, Host")
    ).split('\n');
    expect(plugins).toEqual([
      ...apps.map((app) => `app@${app.address} ed25519`).sort(),
      'exporter@localhost mysql_native_password',
      ...[db1, db2].map((db) => `repl@${db.address} ed25519`).sort(),
    ]);
    // The replica has them too (by replication) and the plugin to check them.
    expect(await sql(db2, "SELECT COUNT(*) FROM mysql.user WHERE plugin = 'ed25519'")).toBe(String(apps.length + 2));
  });

  it('the exporter holds exactly what it reads, and reports the server and replication', async () => {
    const grants = (await sql(db1, 'SHOW GRANTS FOR exporter@localhost')).split('\n').map((line) => line.replace(/ IDENTIFIED BY PASSWORD .*$/, ''));
    expect(grants.sort()).toEqual([
      'GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO `exporter`@`localhost`',
      'GRANT SELECT ON `performance_schema`.* TO `exporter`@`localhost`',
    ]);
    for (const db of [db1, db2]) {
      const metrics = await mustOnHost(db.address, `curl -fsS http://${db.address}:9104/metrics`);
      expect(metrics, `${db.name} mysql_up`).toMatch(/^mysql_up 1$/m);
      if (db === db2) {
        expect(metrics).toMatch(/^mysql_slave_status_slave_io_running\{[^}]*master_host="[\d.]+"[^}]*\} 1$/m);
        expect(metrics).toMatch(/^mysql_slave_status_slave_sql_running\{[^}]*\} 1$/m);
      }
    }
    // Its global grants give no read of the app's tables.
    const myCnf = `"$(sed -n 's/.*--config.my-cnf=\\([^ ]*\\).*/\\1/p' /etc/default/prometheus-mysqld-exporter)"`;
    const denied = await onHost(db1.address, `mysql --defaults-file=${myCnf} -N <<< 'SELECT COUNT(*) FROM app.visits'`);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/denied/i);
  });

  it('leaves the stack converged', async () => {
    const checked = await checkExit();
    expect(checked.code, checked.output).toBe(0);
  });
});
