import { describe, expect, it } from 'vitest';
import type { CommandResource, FileResource, PhaseDesire } from '../../src/core/types.js';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DB_PLATFORM_SCRIPT, parseDbPlatform } from '../../src/engine/db-platform.js';
import { chooseDbFlavor, DB_ENGINES, dbEngine, upstreamVersion, type DbPlatform } from '../../src/roles/db-engines.js';
import { dbFlavor, dbPhase, dbRole, dbSecureTransport, platformChangesRendering } from '../../src/roles/db.js';
import { hostOf, testInventory, testSecrets } from './roles-fixture.js';

// Inventory: db1 10.0.0.41 primary, db2 10.0.0.42 and db3 10.0.0.43 replicas (roles-fixture);
// the db hosts pinned to MySQL by the var db_engine, as `infra lab up --db-engine mysql` writes it.
const mysqlInventory = testInventory();
for (const name of ['db1', 'db2', 'db3']) hostOf(mysqlInventory, name).vars = { db_engine: 'mysql' };
const phaseOf = (name: string) => dbPhase(mysqlInventory, hostOf(mysqlInventory, name), testSecrets());
const commands = (phase: PhaseDesire) => phase.resources.filter((r): r is CommandResource => r.kind === 'command');
const files = (phase: Pick<PhaseDesire, 'resources'>) => phase.resources.filter((r): r is FileResource => r.kind === 'file');

describe('db engines: one row per engine and version range', () => {
  it('reads the upstream version of a Debian package version', () => {
    expect(upstreamVersion('1:10.11.6-0+deb12u1')).toEqual([10, 11, 6]);
    expect(upstreamVersion('9.7.4-2')).toEqual([9, 7, 4]);
    expect(upstreamVersion('8.0.41-0ubuntu0.24.04.1')).toEqual([8, 0, 41]);
  });

  it("finds the row of Debian 12's and 13's MariaDB, sid's MySQL 9.7 and Ubuntu 24.04's MySQL 8.0", () => {
    expect(dbEngine('mariadb', '1:10.11.6-0+deb12u1').title).toBe('MariaDB');
    expect(dbEngine('mariadb', '1:11.8.3-0+deb13u1').title).toBe('MariaDB');
    expect(dbEngine('mysql', '9.7.4-2').title).toBe('MySQL');
    expect(dbEngine('mysql', '8.0.41-0ubuntu0.24.04.1').title).toBe('MySQL');
  });

  it('refuses a version no row covers, naming what is supported', () => {
    expect(() => dbEngine('mysql', '5.7.42-1')).toThrow('MySQL 5.7.42-1 is not supported (supported: 8.0.23 or later)');
    expect(() => dbEngine('mariadb', '1:10.3.39-0+deb10u2')).toThrow('MariaDB 1:10.3.39-0+deb10u2 is not supported (supported: 10.5 or later)');
  });

  it('gives MySQL no mysql_native_password (off in 8.4, gone in 9.x) and only REPLICA/SOURCE statements', () => {
    const mysql = DB_ENGINES.filter((row) => row.kind === 'mysql');
    for (const row of mysql) {
      expect([row.accountPlugin, row.exporterPlugin]).toEqual(['caching_sha2_password', 'caching_sha2_password']);
      const statements = row.replication.statements({ address: '10.0.0.41', port: '3306', user: 'repl', password: 'pw' }).join('\n');
      expect(statements).not.toMatch(/MASTER|SLAVE/);
      expect(statements).toContain('SOURCE_SSL = 1');
    }
  });
});

describe('db role on a Debian host pinned to MySQL (db_engine: mysql)', () => {
  it('follows the pin, whatever os_family says', () => {
    expect(dbFlavor(hostOf(mysqlInventory, 'db1')).kind).toBe('mysql');
    expect(dbFlavor({ ...hostOf(mysqlInventory, 'db1'), vars: { os_family: 'ubuntu', db_engine: 'mariadb' } }).kind).toBe('mariadb');
    expect(dbFlavor({ ...hostOf(mysqlInventory, 'db1'), vars: {} }).kind).toBe('mariadb');
  });

  it("writes its option files after MySQL's mysqld.cnf (which binds 127.0.0.1), so its own settings win", () => {
    const paths = [...files(phaseOf('db2')), ...files(dbSecureTransport(mysqlInventory, hostOf(mysqlInventory, 'db2')))]
      .map((f) => f.path)
      .filter((path) => path.startsWith('/etc/mysql/mysql.conf.d/'));
    expect(paths).toEqual([
      '/etc/mysql/mysql.conf.d/z60-infra.cnf',
      '/etc/mysql/mysql.conf.d/z61-infra-read-only.cnf',
      '/etc/mysql/mysql.conf.d/z62-infra-secure-transport.cnf',
    ]);
    for (const path of paths) expect(path.split('/').pop()! > 'mysqld.cnf').toBe(true);
    const config = files(phaseOf('db2')).find((f) => f.path.endsWith('z60-infra.cnf'))?.content ?? '';
    for (const line of ['bind_address = 10.0.0.42', 'log_bin = mysql-bin', 'gtid_mode = ON', 'enforce_gtid_consistency = ON', 'log_replica_updates = ON']) {
      expect(config.split('\n')).toContain(line);
    }
  });

  it("reads the replica status with --vertical (MySQL 9's client runs no \\G in batch mode), in the guard and the health check", () => {
    const replica = phaseOf('db2');
    const replication = commands(replica).find((c) => c.name === 'replicates from db1');
    expect(replication?.unless).toContain("mysql --vertical <<< 'SHOW REPLICA STATUS'");
    expect(replication?.script).toContain('START REPLICA;');
    expect(dbRole.healthChecks(mysqlInventory, hostOf(mysqlInventory, 'db2')).map((check) => check.script)).toEqual([
      "printf '%s\\n' 'SHOW REPLICA STATUS' | mysql --vertical",
    ]);
  });

  it('holds a replica read-only only while both read_only and super_read_only are on (dropping errant transactions lifts super_read_only alone)', () => {
    const readOnly = commands(phaseOf('db2')).find((c) => c.name === 'read-only replica');
    expect(readOnly?.script).toContain('SET GLOBAL super_read_only = 1;');
    expect(readOnly?.unless).toEqual({ sql: 'SELECT @@GLOBAL.read_only + @@GLOBAL.super_read_only', expected: '2' });
  });
});

describe('db engine from the host (DbPlatform, read before rendering)', () => {
  // What DB_PLATFORM_SCRIPT printed on a provisioned trixie host with sid's MySQL (lab, --db-engine mysql).
  const MYSQL_HOST = ['os\tdebian\t13', 'installed\tmysql-server\t9.7.4-2\tii ', 'candidate\tmysql-server\t9.7.4-2', 'candidate\tmariadb-server\t', ''].join(
    '\n',
  );
  const bare = (id: string, candidates: DbPlatform['candidates']): DbPlatform => ({ os: { id, versionId: '' }, installed: {}, candidates });

  it('parses os-release, the installed server (dpkg "ii" only) and what apt would install', () => {
    expect(parseDbPlatform(MYSQL_HOST)).toEqual({ os: { id: 'debian', versionId: '13' }, installed: { mysql: '9.7.4-2' }, candidates: { mysql: '9.7.4-2' } });
    const removed = parseDbPlatform('os\tdebian\t12\ninstalled\tmariadb-server\t1:10.11.6-0+deb12u1\trc \ncandidate\tmariadb-server\t(none)\n');
    expect(removed).toEqual({ os: { id: 'debian', versionId: '12' }, installed: {}, candidates: {} });
  });

  /** DB_PLATFORM_SCRIPT run by bash with stand-in dpkg-query and apt-cache that print `dpkg` and `candidate`, and log each apt-cache call. */
  function platformRead(dpkg: string, candidate: string): { stdout: string; aptCalls: number } {
    const dir = mkdtempSync(join(tmpdir(), 'infra-platform-'));
    writeFileSync(join(dir, 'dpkg-query'), `#!/bin/sh\nprintf '${dpkg}'\n`);
    writeFileSync(join(dir, 'apt-cache'), `#!/bin/sh\necho x >> ${dir}/apt-calls\nprintf '  Candidate: ${candidate}\\n'\n`);
    writeFileSync(join(dir, 'apt-calls'), '');
    for (const tool of ['dpkg-query', 'apt-cache']) chmodSync(join(dir, tool), 0o755);
    const stdout = execFileSync('bash', ['-c', DB_PLATFORM_SCRIPT], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });
    const aptCalls = execFileSync('cat', [join(dir, 'apt-calls')], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean).length;
    return { stdout, aptCalls };
  }

  it('asks apt for candidates only on a host with no server installed (apt-cache reads the whole package cache)', () => {
    const running = platformRead('installed\\tmysql-server\\t9.7.4-2\\tii \\n', '9.7.4-2');
    expect(running.aptCalls).toBe(0);
    expect(parseDbPlatform(running.stdout).installed).toEqual({ mysql: '9.7.4-2' });
    const removedOnly = platformRead('installed\\tmariadb-server\\t1:10.11.6\\trc \\n', '1:10.11.6');
    expect(removedOnly.aptCalls).toBe(2);
    expect(parseDbPlatform(removedOnly.stdout)).toMatchObject({ installed: {}, candidates: { mariadb: '1:10.11.6', mysql: '1:10.11.6' } });
  });

  it('takes the installed engine at its version, and refuses a pin naming the other engine', () => {
    expect(chooseDbFlavor('db1', undefined, parseDbPlatform(MYSQL_HOST)).kind).toBe('mysql');
    expect(chooseDbFlavor('db1', 'mysql', parseDbPlatform(MYSQL_HOST)).kind).toBe('mysql');
    expect(() => chooseDbFlavor('db1', 'mariadb', parseDbPlatform(MYSQL_HOST))).toThrow(
      'db1 runs MySQL 9.7.4-2 but db_engine pins mariadb: infra does not move a database from one engine to another (set db_engine: mysql, or auto)',
    );
    expect(() => chooseDbFlavor('db1', undefined, { ...bare('debian', {}), installed: { mysql: '5.7.42-1' } })).toThrow(/MySQL 5\.7\.42-1 is not supported/);
  });

  it("on a bare host: the pin, else the distribution's own engine, else the one its apt offers", () => {
    const both = { mariadb: '1:11.8.3-0+deb13u1', mysql: '9.7.4-2' };
    expect(chooseDbFlavor('db1', 'mysql', bare('debian', both)).kind).toBe('mysql');
    expect(chooseDbFlavor('db1', undefined, bare('debian', both)).kind).toBe('mariadb');
    expect(chooseDbFlavor('db1', undefined, bare('ubuntu', both)).kind).toBe('mysql');
    expect(chooseDbFlavor('db1', undefined, bare('debian', { mysql: '9.7.4-2' })).kind).toBe('mysql');
    expect(chooseDbFlavor('db1', undefined, bare('debian', {})).kind).toBe('mariadb');
  });

  it('renders the db phase for the engine the host reports, though the inventory pins nothing', () => {
    const inventory = testInventory();
    const platform = parseDbPlatform(MYSQL_HOST);
    const phase = dbPhase(inventory, hostOf(inventory, 'db2'), testSecrets(), platform);
    expect(phase.resources).toContainEqual({ kind: 'package', name: 'mysql-server' });
    expect(dbPhase(inventory, hostOf(inventory, 'db2'), testSecrets()).resources).toContainEqual({ kind: 'package', name: 'mariadb-server' });
  });
});

describe('db hosts rendered again after their platform read', () => {
  const debian = (installed: DbPlatform['installed']): DbPlatform => ({ os: { id: 'debian', versionId: '13' }, installed, candidates: {} });

  it('only when the host runs another engine than the inventory alone gives, or contradicts its pin', () => {
    const inventory = testInventory();
    const db1 = hostOf(inventory, 'db1');
    expect(platformChangesRendering(db1, debian({ mariadb: '1:11.8.3-0+deb13u1' }))).toBe(false);
    expect(platformChangesRendering(db1, debian({ mysql: '9.7.4-2' }))).toBe(true);
    expect(platformChangesRendering({ ...db1, vars: { db_engine: 'mysql' } }, debian({ mysql: '9.7.4-2' }))).toBe(false);
    expect(platformChangesRendering({ ...db1, vars: { db_engine: 'mariadb' } }, debian({ mysql: '9.7.4-2' }))).toBe(true);
  });
});
