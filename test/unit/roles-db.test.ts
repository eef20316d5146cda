import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandResource, FileResource, PhaseDesire } from '../../src/core/types.js';
import { dbPhase, dbSecureTransport } from '../../src/roles/db.js';
import { sqlString } from '../../src/core/mysql-client.js';
import { cachingSha2PasswordHash, ed25519PasswordHash, nativePasswordHash, sha256Crypt } from '../../src/roles/sql.js';
import { CLEAR, hostOf, testInventory, testSecrets } from './roles-fixture.js';

// Inventory: db1 10.0.0.41 primary, db2 10.0.0.42 and db3 10.0.0.43 replicas; app1 10.0.0.31,
// app2 10.0.0.32; database "shop", user "shopper"; no os_family var (Debian, MariaDB).
const inventory = testInventory();
const phaseOf = (name: string, inv = inventory) => dbPhase(inv, hostOf(inv, name), testSecrets());
const commands = (phase: PhaseDesire) => phase.resources.filter((r): r is CommandResource => r.kind === 'command');
const file = (phase: PhaseDesire, path: string) => phase.resources.find((r): r is FileResource => r.kind === 'file' && r.path === path);
const CONFIG = '/etc/mysql/mariadb.conf.d/60-infra.cnf';
const READ_ONLY_CONFIG = '/etc/mysql/mariadb.conf.d/61-infra-read-only.cnf';

describe('db role, server settings', () => {
  it('gives each db host its own server_id and binds to its address, with GTID replication settings', () => {
    const configs = ['db1', 'db2', 'db3'].map((name) => file(phaseOf(name), CONFIG)?.content ?? '');
    expect(configs.map((c) => /server_id = (\d+)/.exec(c)?.[1])).toEqual(['1', '2', '3']);
    expect(configs[1]).toMatch(/bind_address = 10\.0\.0\.42\n/);
    for (const config of configs) {
      for (const line of ['log_bin = mariadb-bin', 'binlog_format = ROW', 'gtid_strict_mode = ON', 'log_slave_updates = ON', 'skip_name_resolve = ON']) {
        expect(config.split('\n')).toContain(line);
      }
    }
  });

  it('writes the same settings file whoever is primary, so moving the primary restarts no server', () => {
    const swapped = testInventory();
    swapped.db.primary = 'db2';
    swapped.db.replicas = ['db1', 'db3'];
    expect(file(phaseOf('db2', swapped), CONFIG)).toEqual(file(phaseOf('db2'), CONFIG));
    expect(file(phaseOf('db1', swapped), CONFIG)).toEqual(file(phaseOf('db1'), CONFIG));
    expect(file(phaseOf('db1'), CONFIG)?.content).not.toMatch(/^read_only/m);
  });

  it('brings replicas back read-only after a restart and the primary writable, from a file that restarts nothing', () => {
    expect(file(phaseOf('db1'), READ_ONLY_CONFIG)?.content).toMatch(/^read_only = OFF$/m);
    expect(file(phaseOf('db2'), READ_ONLY_CONFIG)?.content).toMatch(/^read_only = ON$/m);
    expect(file(phaseOf('db3'), READ_ONLY_CONFIG)?.content).toMatch(/^read_only = ON$/m);
    expect(file(phaseOf('db2'), READ_ONLY_CONFIG)?.notify).toBeUndefined();
  });

  it('carries the switchover on the primary: the db hosts, the app user whose connections are cut, the catch-up bound', () => {
    expect(phaseOf('db1').resources[0]).toEqual({
      kind: 'db-replication',
      host: 'db1',
      flavor: 'mariadb',
      primary: { name: 'db1', address: '10.0.0.41' },
      dbHosts: [
        { name: 'db1', address: '10.0.0.41' },
        { name: 'db2', address: '10.0.0.42' },
        { name: 'db3', address: '10.0.0.43' },
      ],
      appUser: 'shopper',
      catchUpSeconds: 30,
    });
    expect(phaseOf('db2').resources[0]).toMatchObject({ kind: 'db-replication', host: 'db2', primary: { name: 'db1' } });
  });

  it('restarts a server that does not run with these settings before any account is made', () => {
    const list = commands(phaseOf('db1'));
    expect(list[0]?.name).toBe('mariadb runs with infra settings');
    expect(list[0]?.unless).toMatchObject({
      sql: expect.stringMatching(/^SELECT CONCAT_WS\(/),
      expected: '1,10.0.0.41,1,1,ROW,/etc/mysql/infra-server.crt,1,1',
    });
    expect(commands(phaseOf('db2'))[0]?.unless).toMatchObject({ expected: '2,10.0.0.42,1,1,ROW,/etc/mysql/infra-server.crt,1,1' });
    // That restart reads the settings file written before it: the file's own restart is done.
    expect(list[0]?.carriesOut).toEqual(['restart:mariadb']);
  });

  it('validates the option files with the server itself and restarts it with a ping check', () => {
    const phase = phaseOf('db1');
    expect(phase.validators.map((v) => v.script)).toContain('mariadbd --help --verbose >/dev/null');
    expect(phase.handlers).toContainEqual({ id: 'restart:mariadb', service: 'mariadb', action: 'restart', healthCheck: 'mysqladmin --silent ping' });
    expect(file(phase, CONFIG)?.notify).toEqual(['restart:mariadb']);
  });
});

describe('db role, accounts on the primary', () => {
  const list = commands(phaseOf('db1'));
  const accountNames = list.filter((c) => c.name.startsWith('db account ')).map((c) => c.name.slice('db account '.length));

  it('creates the app user for each app host address only, the repl user per db host (any may become a replica), and the exporter locally', () => {
    expect(accountNames).toEqual(['shopper@10.0.0.31', 'shopper@10.0.0.32', 'repl@10.0.0.41', 'repl@10.0.0.42', 'repl@10.0.0.43', 'exporter@localhost']);
    expect(list.map((c) => c.script).join('\n')).not.toMatch(/@'%'/);
  });

  it('grants the app user only SELECT, INSERT, UPDATE, DELETE, CREATE on its database', () => {
    const app = list.find((c) => c.name === 'db account shopper@10.0.0.31');
    expect(app?.script).toContain("GRANT CREATE, DELETE, INSERT, SELECT, UPDATE ON `shop`.* TO '\\''shopper'\\''@'\\''10.0.0.31'\\'';");
    expect(app?.script.match(/^GRANT /gm)).toHaveLength(1);
    expect(app?.script).toContain('REVOKE ALL PRIVILEGES, GRANT OPTION');
    expect(list.find((c) => c.name === 'db account repl@10.0.0.42')?.script).toContain('GRANT REPLICATION SLAVE ON *.* TO');
  });

  it('sets passwords by their ed25519 hash, checks plugin and hash in the guard, and lists the password and hash as secrets', () => {
    const app = list.find((c) => c.name === 'db account shopper@10.0.0.32');
    const hash = ed25519PasswordHash(CLEAR.appPassword);
    expect(hash).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(app?.script).toContain(
      `CREATE USER IF NOT EXISTS '\\''shopper'\\''@'\\''10.0.0.32'\\'' IDENTIFIED VIA ed25519 USING ${sqlString(hash).replaceAll("'", "'\\''")};`,
    );
    expect(app?.script).toContain(`ALTER USER '\\''shopper'\\''@'\\''10.0.0.32'\\'' IDENTIFIED VIA ed25519 USING`);
    expect(app?.script).not.toContain(CLEAR.appPassword);
    expect(app?.unless).toMatchObject({ sql: expect.stringContaining(`plugin = 'ed25519' AND authentication_string = ${sqlString(hash)}`), expected: '1' });
    expect(app?.secrets?.map((s) => s.reveal())).toEqual([CLEAR.appPassword, hash]);
  });

  it("computes MariaDB's ed25519 hash as the server does (values read from MariaDB 10.11: USING PASSWORD(...))", () => {
    expect(ed25519PasswordHash('')).toBe('4LH+dBF+G5W2CKTyId8xR3SyDqZoQjUNUVNxx8aWbG4');
    expect(ed25519PasswordHash('secret')).toBe('ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY');
    expect(ed25519PasswordHash('pa\'ss"w\\ord')).toBe('9D67XLohgqPBOSGb3f5fz+uLlzIl+EYxJpdKLByiFPw');
  });

  it('loads the ed25519 plugin on every db host, out of the binlog, before any account or replication', () => {
    for (const name of ['db1', 'db3']) {
      const names = commands(phaseOf(name)).map((c) => c.name);
      expect(names.indexOf('ed25519 authentication plugin')).toBe(1);
      const plugin = commands(phaseOf(name))[1];
      expect(plugin?.script).toMatch(/SET SESSION sql_log_bin = 0;\nINSTALL SONAME '\\''auth_ed25519'\\'';/);
      // A replica's connection to its primary needs the client half, which Debian 12 puts elsewhere.
      expect(commands(phaseOf(name))[2]).toMatchObject({ unless: '[ -e /usr/lib/mysql/plugin/client_ed25519.so ]' });
      expect(commands(phaseOf(name))[2]?.script).toContain('ln -sfn -- "$__so" /usr/lib/mysql/plugin/client_ed25519.so');
    }
  });

  it('creates the database once', () => {
    const database = list.find((c) => c.name === 'database shop');
    expect(database?.script).toContain('CREATE DATABASE IF NOT EXISTS `shop`;');
    expect(database?.unless).toEqual({ sql: "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'", expected: '1' });
  });

  it('feeds SQL to mysql through a builtin pipe, never as an argument', () => {
    // The client plugin's link runs no SQL.
    for (const command of list.filter((c) => !c.name.startsWith('ed25519 client plugin'))) {
      expect(command.script).toMatch(/^printf '%s\\n' '[\s\S]*' \| mysql$|^systemctl restart/);
      expect(command.script).not.toMatch(/mysql[^|]* (-p|--password|-e)/);
    }
  });
});

describe('db role, replicas', () => {
  it("the replication guard holds only when the status shows this primary, GTID, TLS verified against infra's CA and both threads running", () => {
    const replication = commands(phaseOf('db3')).find((c) => c.name === 'replicates from db1');
    const dir = mkdtempSync(join(tmpdir(), 'infra-repl-guard-'));
    const holds = (status: Record<string, string>): boolean => {
      const lines = Object.entries(status).map(([field, value]) => `${field.padStart(30)}: ${value}`);
      writeFileSync(join(dir, 'mysql'), `#!/bin/bash\ncat >/dev/null\necho '*** 1. row ***'\nprintf '%s\\n' ${lines.map((l) => `'${l}'`).join(' ')}\n`);
      chmodSync(join(dir, 'mysql'), 0o755);
      return spawnSync('bash', ['-c', String(replication?.unless)], { env: { PATH: `${dir}:/usr/bin:/bin` } }).status === 0;
    };
    const running = {
      Slave_IO_State: 'Waiting for master to send event',
      Master_Host: '10.0.0.41',
      Master_User: 'repl',
      Master_Port: '3306',
      Slave_IO_Running: 'Yes',
      Slave_SQL_Running: 'Yes',
      Using_Gtid: 'Slave_Pos',
      Master_SSL_Allowed: 'Yes',
      Master_SSL_CA_File: '/etc/mysql/infra-ca.crt',
      Master_SSL_Verify_Server_Cert: 'Yes',
    };
    expect(holds(running)).toBe(true);
    expect(holds({ ...running, Master_SSL_Allowed: 'No' })).toBe(false);
    expect(holds({ ...running, Master_SSL_Verify_Server_Cert: 'No' })).toBe(false);
    expect(holds({ ...running, Slave_SQL_Running: 'No' })).toBe(false);
    expect(holds({ ...running, Master_Host: '10.0.0.49' })).toBe(false);
    expect(holds({})).toBe(false);
  });

  it("the replication command fails, with the threads' last errors, when the applier stops right after both threads showed Yes", () => {
    const replication = commands(phaseOf('db3')).find((c) => c.name === 'replicates from db1');
    const dir = mkdtempSync(join(tmpdir(), 'infra-repl-command-'));
    const running = [
      'Master_Host: 10.0.0.41',
      'Master_User: repl',
      'Master_Port: 3306',
      'Using_Gtid: Slave_Pos',
      'Master_SSL_Allowed: Yes',
      'Master_SSL_CA_File: /etc/mysql/infra-ca.crt',
      'Master_SSL_Verify_Server_Cert: Yes',
      'Slave_IO_Running: Yes',
    ];
    // The first status read shows both threads running, every later one the applier stopped on a duplicate row.
    const status = (sql: string, error: string) =>
      [...running, `Slave_SQL_Running: ${sql}`, `Last_SQL_Error: ${error}`].map((l) => `'${l.padStart(50)}'`).join(' ');
    writeFileSync(
      join(dir, 'mysql'),
      [
        '#!/bin/bash',
        'sql=$(cat)',
        '[[ $sql == SHOW* ]] || exit 0',
        `if [ -e "${dir}/read" ]; then printf '%s\\n' ${status('No', 'Could not execute Write_rows event: Duplicate entry 344 for key visits.PRIMARY')}; else touch "${dir}/read"; printf '%s\\n' ${status('Yes', '')}; fi`,
      ].join('\n'),
    );
    chmodSync(join(dir, 'mysql'), 0o755);
    const run = spawnSync('bash', ['-c', String(replication?.script)], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('Last_SQL_Error: Could not execute Write_rows event: Duplicate entry 344 for key visits.PRIMARY');
  });

  it('replicate from the primary by GTID, guarded by the current master settings, without accounts of their own', () => {
    const list = commands(phaseOf('db3'));
    expect(list.map((c) => c.name)).toEqual([
      'mariadb runs with infra settings',
      'ed25519 authentication plugin',
      "ed25519 client plugin in the server's plugin folder",
      'mariadb serves the current certificate',
      'read-only replica',
      'replicates from db1',
    ]);
    expect(list[4]).toMatchObject({
      script: expect.stringContaining('SET GLOBAL read_only = 1;'),
      unless: { sql: 'SELECT @@GLOBAL.read_only + 0', expected: '1' },
    });
    const replication = list[5];
    expect(replication?.script).toContain("MASTER_HOST = '\\''10.0.0.41'\\'', MASTER_PORT = 3306, MASTER_USER = '\\''repl'\\''");
    expect(replication?.script).toContain('MASTER_USE_GTID = slave_pos');
    expect(replication?.script).toContain("MASTER_SSL = 1, MASTER_SSL_CA = '\\''/etc/mysql/infra-ca.crt'\\'', MASTER_SSL_VERIFY_SERVER_CERT = 1;");
    expect(replication?.script).toMatch(/STOP SLAVE;\n[\s\S]*START SLAVE;/);
    // An old primary made a replica asks for what follows its own transactions.
    expect(replication?.script).toContain('STOP SLAVE;\nSET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos;\nCHANGE MASTER TO');
    expect(replication?.secrets?.map((s) => s.reveal())).toEqual([CLEAR.replicationPassword]);
    expect(replication?.unless).not.toContain(CLEAR.replicationPassword);
    for (const expected of ['Master_Host: 10.0.0.41', 'Master_User: repl', 'Using_Gtid: Slave_Pos']) expect(replication?.unless).toContain(expected);
  });

  it("starts a replica's db phase once the primary's is done, and the primary's without waiting", () => {
    expect(phaseOf('db2').after).toEqual(['db1']);
    expect(phaseOf('db3').after).toEqual(['db1']);
    expect(phaseOf('db1').after).toBeUndefined();
  });

  it('refuses a db host that is neither primary nor replica', () => {
    const inv = testInventory();
    inv.db.replicas = ['db2'];
    expect(() => phaseOf('db3', inv)).toThrow(/neither db.primary nor one of db.replicas/);
  });
});

describe('db role, TLS', () => {
  it("presents its certificate from infra's CA, with the key readable by the server's group only and redacted", () => {
    const phase = phaseOf('db2');
    const config = file(phase, CONFIG)?.content ?? '';
    for (const line of ['ssl_ca = /etc/mysql/infra-ca.crt', 'ssl_cert = /etc/mysql/infra-server.crt', 'ssl_key = /etc/mysql/infra-server.key'])
      expect(config.split('\n')).toContain(line);
    expect(file(phase, '/etc/mysql/infra-server.crt')).toMatchObject({ content: testSecrets().dbTls?.certificate, mode: '0644' });
    expect(file(phase, '/etc/mysql/infra-ca.crt')).toMatchObject({ content: testSecrets().dbTls?.caCertificate, mode: '0644' });
    const key = file(phase, '/etc/mysql/infra-server.key');
    expect(key).toMatchObject({ content: CLEAR.dbTlsKey, mode: '0640', owner: 'root', group: 'mysql' });
    expect(key?.secrets?.map((secret) => secret.reveal())).toEqual([CLEAR.dbTlsKey]);
    // A renewed certificate or a CA rotation reaches the running server without a restart.
    for (const tlsFile of [key, file(phase, '/etc/mysql/infra-server.crt'), file(phase, '/etc/mysql/infra-ca.crt')]) expect(tlsFile?.notify).toBeUndefined();
    const reload = commands(phase).find((c) => c.name === 'mariadb serves the current certificate');
    expect(reload).toMatchObject({
      unless: 'true',
      runsWhenChanged: ['/etc/mysql/infra-ca.crt', '/etc/mysql/infra-server.crt', '/etc/mysql/infra-server.key'],
    });
    expect(reload?.script).toContain('FLUSH LOCAL SSL;');
  });

  it('requires TLS of TCP clients only in the cleanup phase, live and for restarts, once every client speaks it', () => {
    const { resources, validators } = dbSecureTransport(inventory, hostOf(inventory, 'db3'));
    expect(resources[0]).toMatchObject({ kind: 'file', path: '/etc/mysql/mariadb.conf.d/62-infra-secure-transport.cnf', mode: '0644' });
    expect((resources[0] as FileResource).content).toContain('\nrequire_secure_transport = ON\n');
    expect((resources[0] as FileResource).notify).toBeUndefined();
    expect(resources[1]).toMatchObject({ kind: 'command', unless: { sql: 'SELECT @@GLOBAL.require_secure_transport + 0', expected: '1' } });
    expect((resources[1] as CommandResource).script).toContain('SET GLOBAL require_secure_transport = ON;');
    expect(validators.map((v) => v.script)).toEqual(['mariadbd --help --verbose >/dev/null']);
    expect(file(phaseOf('db3'), CONFIG)?.content).not.toContain('require_secure_transport');
    expect(dbSecureTransport(inventory, hostOf(inventory, 'app1')).resources).toEqual([]);
  });
});

describe('db role, mysqld exporter', () => {
  it('grants the exporter what it reads and no more: process list, binlog and replica status, performance_schema', () => {
    const exporter = commands(phaseOf('db1')).find((c) => c.name === 'db account exporter@localhost');
    expect(exporter?.script).toContain("GRANT BINLOG MONITOR, PROCESS, SLAVE MONITOR ON *.* TO '\\''exporter'\\''@'\\''localhost'\\'';");
    expect(exporter?.script).toContain('GRANT SELECT ON `performance_schema`.* TO');
    expect(exporter?.script).not.toMatch(/GRANT [A-Z ,]*SELECT[A-Z ,]* ON \*\.\*/);
    expect(JSON.stringify(exporter?.unless)).toContain('performance_schema:SELECT');
    // Its Go driver (Debian 12's exporter 0.14) does not speak ed25519; it logs in on the socket only.
    expect(exporter?.script).toContain(`IDENTIFIED VIA mysql_native_password USING '\\''${nativePasswordHash(CLEAR.exporterPassword)}'\\''`);
    expect(JSON.stringify(exporter?.unless)).toContain("plugin = 'mysql_native_password'");
  });

  const phase = phaseOf('db2');

  it('logs in over the socket with a credentials file root keeps and only its group reads, and listens on the host address :9104', () => {
    const myCnf = file(phase, '/etc/prometheus/mysqld-exporter.my.cnf');
    expect(myCnf).toMatchObject({ mode: '0640', owner: 'root', group: 'prometheus' });
    expect(phase.resources).toContainEqual({ kind: 'directory', path: '/etc/prometheus', mode: '0755', owner: 'root', group: 'root' });
    expect(myCnf?.content).toContain(`user = exporter\npassword = ${CLEAR.exporterPassword}\nsocket = /run/mysqld/mysqld.sock\n`);
    expect(myCnf?.secrets?.map((s) => s.reveal())).toEqual([CLEAR.exporterPassword]);
    expect(file(phase, '/etc/default/prometheus-mysqld-exporter')?.content).toContain(
      'ARGS="--config.my-cnf=/etc/prometheus/mysqld-exporter.my.cnf --web.listen-address=10.0.0.42:9104',
    );
  });

  it("keeps nothing in the exporter's home, a folder the prometheus user can change", () => {
    expect(phase.resources.some((r) => 'path' in r && r.path.startsWith('/var/lib/prometheus/'))).toBe(false);
  });
});

describe('db role on Ubuntu (host var os_family: ubuntu)', () => {
  const ubuntu = testInventory();
  for (const name of ['db1', 'db2']) hostOf(ubuntu, name).vars = { os_family: 'ubuntu' };

  it('keeps a MySQL replica super_read_only across a restart, and the primary writable', () => {
    expect(file(phaseOf('db2', ubuntu), '/etc/mysql/mysql.conf.d/z61-infra-read-only.cnf')?.content).toMatch(/^read_only = ON\nsuper_read_only = ON$/m);
    expect(file(phaseOf('db1', ubuntu), '/etc/mysql/mysql.conf.d/z61-infra-read-only.cnf')?.content).toMatch(/^read_only = OFF\nsuper_read_only = OFF$/m);
  });

  it('uses MySQL: its package, config directory, GTID settings, validator and replication statements', () => {
    const replica = phaseOf('db2', ubuntu);
    expect(replica.resources).toContainEqual({ kind: 'package', name: 'mysql-server' });
    const config = file(replica, '/etc/mysql/mysql.conf.d/z60-infra.cnf')?.content ?? '';
    expect(config).toMatch(/^gtid_mode = ON$/m);
    expect(config).toMatch(/^enforce_gtid_consistency = ON$/m);
    expect(replica.validators.map((v) => v.script)).toContain('mysqld --validate-config');
    expect(commands(replica).find((c) => c.name === 'mysql serves the current certificate')?.script).toContain('ALTER INSTANCE RELOAD TLS;');
    expect(commands(replica)[3]?.script).toContain('SOURCE_AUTO_POSITION = 1');
    expect(commands(replica)[3]?.script).toContain("SOURCE_SSL = 1, SOURCE_SSL_CA = '\\''/etc/mysql/infra-ca.crt'\\'', SOURCE_SSL_VERIFY_SERVER_CERT = 1;");
    expect(commands(replica)[3]?.script).not.toContain('gtid_slave_pos');
    expect(commands(replica).map((c) => c.name)).not.toContain('ed25519 authentication plugin');
  });

  it('creates MySQL accounts with caching_sha2_password from a hash computed here, checked and redacted in every form', () => {
    const repl = commands(phaseOf('db1', ubuntu)).find((c) => c.name === 'db account repl@10.0.0.42');
    const hash = cachingSha2PasswordHash(CLEAR.replicationPassword, 'repl@10.0.0.42');
    expect(hash).toMatch(/^\$A\$005\$[./0-9A-Za-z]{20}[./0-9A-Za-z]{43}$/);
    const hex = `0x${Buffer.from(hash).toString('hex').toUpperCase()}`;
    expect(repl?.script).toContain(`IDENTIFIED WITH caching_sha2_password AS ${hex};`);
    expect(repl?.script).not.toContain(CLEAR.replicationPassword);
    expect(JSON.stringify(repl?.unless)).toContain(`plugin = 'caching_sha2_password' AND authentication_string = ${hex}`);
    expect(repl?.secrets?.map((secret) => secret.reveal())).toEqual([CLEAR.replicationPassword, hash, hex]);
    // Another account with the same password gets another salt.
    expect(cachingSha2PasswordHash(CLEAR.replicationPassword, 'repl@10.0.0.43').slice(7, 27)).not.toBe(hash.slice(7, 27));
    const exporter = commands(phaseOf('db1', ubuntu)).find((c) => c.name === 'db account exporter@localhost');
    // MySQL 8.4 has mysql_native_password off, 9.x has none: the exporter's account is caching_sha2_password too.
    const exporterHash = cachingSha2PasswordHash(CLEAR.exporterPassword, 'exporter@localhost');
    expect(exporter?.script).toContain(`IDENTIFIED WITH caching_sha2_password AS 0x${Buffer.from(exporterHash).toString('hex').toUpperCase()};`);
    expect(exporter?.script).not.toContain('mysql_native_password');
  });

  it('computes SHA-256 crypt as crypt(3) does (values from openssl passwd -5), salts longer than 16 taken whole', () => {
    expect(sha256Crypt('Hello world!', 'saltstring')).toBe('5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5');
    expect(sha256Crypt('x', 'abcdefghijklmnop')).toBe('fiUnwzJyCDn7Dx53oezcP81DtfKy73q.P999JrS8fsB');
    expect(sha256Crypt('a much longer password than thirty-two bytes, to repeat B', 'ab')).toBe('8pGew6mD803yksFgCs8hul33tRbTpf2GbCKSuUwlsr5');
    expect(sha256Crypt('x', 'abcdefghijklmnopqrst')).not.toBe(sha256Crypt('x', 'abcdefghijklmnop'));
  });

  it('refuses an unknown os_family', () => {
    const other = testInventory();
    hostOf(other, 'db1').vars = { os_family: 'arch' };
    expect(() => phaseOf('db1', other)).toThrow(/os_family/);
  });
});
