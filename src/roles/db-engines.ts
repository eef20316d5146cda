import { sqlString } from '../core/mysql-client.js';

/**
 * The database engines the db role runs, and everything that differs between them and their
 * versions: one table (DB_ENGINES), read by the role (src/roles/db.ts), its templates
 * (templates/db/*.ejs) and the lab's package repository. The role and the templates hold no test
 * of the engine: what differs is a field here.
 */

export type DbEngineName = 'mariadb' | 'mysql';

export const DB_ENGINE_NAMES: readonly DbEngineName[] = ['mariadb', 'mysql'];

/** The server package of each engine: the one the db role installs and the lab's repository holds. */
export const DB_SERVER_PACKAGES: Readonly<Record<DbEngineName, string>> = {
  mariadb: 'mariadb-server',
  mysql: 'mysql-server',
};

/** The server's certificate, its key and infra's CA (the replicas verify their primary against it). */
export const DB_TLS = { ca: '/etc/mysql/infra-ca.crt', certificate: '/etc/mysql/infra-server.crt', key: '/etc/mysql/infra-server.key' };

/** A replica's connection to its primary, as the engine's statements need it. */
export interface ReplicationSource {
  address: string;
  port: string;
  user: string;
  password: string;
}

/** The database server a host runs, for one range of versions of one engine. */
export interface DbFlavor {
  kind: DbEngineName;
  title: string;
  /** The versions this row covers: from `min` (included) up to `below` (excluded). */
  versions: { min: string; below?: string };
  package: string;
  service: string;
  /**
   * infra's option files: its settings, the read-only file and the secure-transport file. They
   * must sort after the package's own (the server reads a folder in name order, the last value
   * wins): MySQL's mysqld.cnf sets bind-address = 127.0.0.1, and 60-… sorts before it.
   */
  configFiles: { settings: string; readOnly: string; secureTransport: string };
  /** Checks the whole option-file tree as the server would read it, without starting it. */
  validate: string;
  binlogBase: string;
  relayLogBase: string;
  /** GTID and the replicas' own binlog, in 60-infra.cnf (`config`) and as the running server shows it (`live`). */
  gtidSettings: { variable: string; config: string; live: string }[];
  /** Global privileges of the exporter's account; it also reads performance_schema. */
  exporterPrivileges: string[];
  /** The statement that makes the running server read its certificate, key and CA files again. */
  reloadTls: string;
  /** The plugin of the app's and the replication accounts. */
  accountPlugin: 'ed25519' | 'caching_sha2_password';
  /**
   * The exporter's plugin. Debian 12's exporter (0.14) has a Go MySQL driver without
   * client_ed25519 ("unknown auth plugin"): native on MariaDB, whose hash never leaves the host
   * (the account is @localhost, on the socket). The driver speaks caching_sha2_password, over the
   * socket without TLS, and MySQL 8.4 has native off (9.x has none).
   */
  exporterPlugin: 'mysql_native_password' | 'caching_sha2_password';
  /** MariaDB's ed25519 is a plugin to install on the server, and its client half to link for replicas. */
  ed25519Plugins: boolean;
  /** What makes a replica read-only for clients (root included, on MySQL: super_read_only). */
  readOnly: string[];
  /**
   * One value, `expected` once every setting of `readOnly` holds. On MySQL both: lifting
   * super_read_only by hand (as dropping errant transactions does) leaves read_only ON.
   */
  readOnlyHeld: { sql: string; expected: string };
  /** The server settings that make a replica read-only again after a restart, as in `readOnly`. */
  readOnlySettings: string[];
  replication: {
    /** Read with `mysql --vertical`: MySQL 9's client runs no `\\G` (no client command) in batch mode. */
    status: string;
    /** The status fields of a replica that replicates from `source` over TLS with both threads running. */
    expected: (source: Omit<ReplicationSource, 'password'>) => Record<string, string>;
    statements: (source: ReplicationSource) => string[];
  };
}

const TLS_CHECKED = { ca: DB_TLS.ca };

const MARIADB: DbFlavor = {
  kind: 'mariadb',
  title: 'MariaDB',
  // 10.5: BINLOG MONITOR and SLAVE MONITOR (Debian 11's 10.5, Debian 12's 10.11, Debian 13's 11.8).
  versions: { min: '10.5' },
  package: DB_SERVER_PACKAGES.mariadb,
  service: 'mariadb',
  configFiles: {
    settings: '/etc/mysql/mariadb.conf.d/60-infra.cnf',
    readOnly: '/etc/mysql/mariadb.conf.d/61-infra-read-only.cnf',
    secureTransport: '/etc/mysql/mariadb.conf.d/62-infra-secure-transport.cnf',
  },
  // MariaDB has no --validate-config; --help --verbose reads every option file and exits non-zero
  // on an unknown option or an invalid value (checked with 10.11), without touching the data.
  validate: 'mariadbd --help --verbose >/dev/null',
  binlogBase: 'mariadb-bin',
  relayLogBase: 'mariadb-relay-bin',
  gtidSettings: [
    { variable: 'gtid_strict_mode', config: 'ON', live: '1' },
    { variable: 'log_slave_updates', config: 'ON', live: '1' },
  ],
  // Since 10.5, REPLICATION CLIENT is BINLOG MONITOR, and SHOW SLAVE STATUS needs SLAVE MONITOR.
  exporterPrivileges: ['BINLOG MONITOR', 'PROCESS', 'SLAVE MONITOR'],
  // LOCAL: a FLUSH is written to the binlog otherwise, and on a replica that is an errant transaction.
  reloadTls: 'FLUSH LOCAL SSL;',
  accountPlugin: 'ed25519',
  exporterPlugin: 'mysql_native_password',
  ed25519Plugins: true,
  readOnly: ['SET GLOBAL read_only = 1;'],
  readOnlyHeld: { sql: 'SELECT @@GLOBAL.read_only + 0', expected: '1' },
  readOnlySettings: ['read_only'],
  replication: {
    status: 'SHOW SLAVE STATUS',
    expected: (source) => ({
      Master_Host: source.address,
      Master_Port: source.port,
      Master_User: source.user,
      Using_Gtid: 'Slave_Pos',
      Master_SSL_Allowed: 'Yes',
      Master_SSL_CA_File: TLS_CHECKED.ca,
      Master_SSL_Verify_Server_Cert: 'Yes',
      Slave_IO_Running: 'Yes',
      Slave_SQL_Running: 'Yes',
    }),
    statements: (source) => [
      'STOP SLAVE;',
      // An old primary's own transactions are in its binlog, not in gtid_slave_pos: it asks its
      // new source for what comes after them (on a replica both positions are the same).
      'SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos;',
      `CHANGE MASTER TO MASTER_HOST = ${sqlString(source.address)}, MASTER_PORT = ${source.port}, MASTER_USER = ${sqlString(source.user)},` +
        ` MASTER_PASSWORD = ${sqlString(source.password)}, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 5,` +
        ` MASTER_SSL = 1, MASTER_SSL_CA = ${sqlString(TLS_CHECKED.ca)}, MASTER_SSL_VERIFY_SERVER_CERT = 1;`,
      'START SLAVE;',
    ],
  },
};

const MYSQL: DbFlavor = {
  kind: 'mysql',
  title: 'MySQL',
  // 8.0.23: CHANGE REPLICATION SOURCE TO and SOURCE_* (8.4 and later accept nothing else).
  versions: { min: '8.0.23' },
  package: DB_SERVER_PACKAGES.mysql,
  service: 'mysql',
  configFiles: {
    settings: '/etc/mysql/mysql.conf.d/z60-infra.cnf',
    readOnly: '/etc/mysql/mysql.conf.d/z61-infra-read-only.cnf',
    secureTransport: '/etc/mysql/mysql.conf.d/z62-infra-secure-transport.cnf',
  },
  validate: 'mysqld --validate-config',
  binlogBase: 'mysql-bin',
  relayLogBase: 'mysql-relay-bin',
  gtidSettings: [
    { variable: 'gtid_mode', config: 'ON', live: 'ON' },
    { variable: 'enforce_gtid_consistency', config: 'ON', live: 'ON' },
    { variable: 'log_replica_updates', config: 'ON', live: '1' },
  ],
  exporterPrivileges: ['PROCESS', 'REPLICATION CLIENT'],
  reloadTls: 'ALTER INSTANCE RELOAD TLS;',
  accountPlugin: 'caching_sha2_password',
  exporterPlugin: 'caching_sha2_password',
  ed25519Plugins: false,
  readOnly: ['SET GLOBAL read_only = 1;', 'SET GLOBAL super_read_only = 1;'],
  readOnlyHeld: { sql: 'SELECT @@GLOBAL.read_only + @@GLOBAL.super_read_only', expected: '2' },
  readOnlySettings: ['read_only', 'super_read_only'],
  replication: {
    status: 'SHOW REPLICA STATUS',
    expected: (source) => ({
      Source_Host: source.address,
      Source_Port: source.port,
      Source_User: source.user,
      Auto_Position: '1',
      Source_SSL_Allowed: 'Yes',
      Source_SSL_CA_File: TLS_CHECKED.ca,
      Source_SSL_Verify_Server_Cert: 'Yes',
      Replica_IO_Running: 'Yes',
      Replica_SQL_Running: 'Yes',
    }),
    // caching_sha2_password sends the password only over TLS (or encrypted with the source's
    // public key): SOURCE_SSL is what lets the replica log in at all.
    statements: (source) => [
      'STOP REPLICA;',
      `CHANGE REPLICATION SOURCE TO SOURCE_HOST = ${sqlString(source.address)}, SOURCE_PORT = ${source.port}, SOURCE_USER = ${sqlString(source.user)},` +
        ` SOURCE_PASSWORD = ${sqlString(source.password)}, SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = 5,` +
        ` SOURCE_SSL = 1, SOURCE_SSL_CA = ${sqlString(TLS_CHECKED.ca)}, SOURCE_SSL_VERIFY_SERVER_CERT = 1;`,
      'START REPLICA;',
    ],
  },
};

/** Every supported engine and version range; a version no row covers is refused by name. */
export const DB_ENGINES: readonly DbFlavor[] = [MARIADB, MYSQL];

/** `1:10.11.6-0+deb12u1` → [10, 11, 6]: the upstream version of a Debian package version, as numbers. */
export function upstreamVersion(version: string): number[] {
  const upstream = version.replace(/^\d+:/, '');
  return (/^\d+(\.\d+)*/.exec(upstream)?.[0] ?? '')
    .split('.')
    .filter((part) => part !== '')
    .map(Number);
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/**
 * The row for an engine at a version (a Debian package version or a plain one); without a
 * version (the server is not installed yet), the engine's newest row.
 */
export function dbEngine(kind: DbEngineName, version?: string): DbFlavor {
  const rows = DB_ENGINES.filter((row) => row.kind === kind);
  if (version === undefined) return rows[rows.length - 1] as DbFlavor;
  const parsed = upstreamVersion(version);
  const row = rows.find(
    (candidate) =>
      compareVersions(parsed, upstreamVersion(candidate.versions.min)) >= 0 &&
      (candidate.versions.below === undefined || compareVersions(parsed, upstreamVersion(candidate.versions.below)) < 0),
  );
  if (!row) {
    const ranges = rows
      .map((candidate) => `${candidate.versions.min}${candidate.versions.below ? ` to before ${candidate.versions.below}` : ' or later'}`)
      .join(', ');
    throw new Error(`${rows[0]?.title ?? kind} ${version} is not supported (supported: ${ranges})`);
  }
  return row;
}

/**
 * What a db host says of itself before rendering (src/engine/db-platform.ts reads it): its
 * /etc/os-release, the server package installed, if any, and the version its apt would install
 * of each engine's server.
 */
export interface DbPlatform {
  os: { id: string; versionId: string };
  installed: Partial<Record<DbEngineName, string>>;
  candidates: Partial<Record<DbEngineName, string>>;
}

/** The engine a distribution installs by default: Ubuntu users take `mysql-server`, Debian's is MariaDB. */
const DEFAULT_ENGINE_BY_OS: Readonly<Record<string, DbEngineName>> = { ubuntu: 'mysql', debian: 'mariadb' };

/**
 * The server of a db host from its platform: the engine installed, else the inventory's pin, else
 * the distribution's own if its apt offers it, else the one its apt offers (a Debian host whose
 * sources carry Oracle's MySQL and no MariaDB, as in the lab); at the version installed, else the
 * one apt would install. A pin that names another engine than the installed one is refused: infra
 * does not move data between engines, and installing the other server would remove this one.
 */
export function chooseDbFlavor(host: string, pin: DbEngineName | undefined, platform: DbPlatform): DbFlavor {
  const installed = DB_ENGINE_NAMES.filter((name) => platform.installed[name] !== undefined);
  if (installed.length > 1) throw new Error(`${host} has both ${installed.map((name) => DB_SERVER_PACKAGES[name]).join(' and ')} installed: remove one`);
  const running = installed[0];
  if (running && pin && running !== pin) {
    throw new Error(
      `${host} runs ${dbEngine(running).title} ${platform.installed[running]} but db_engine pins ${pin}: infra does not move a database from one engine to another (set db_engine: ${running}, or auto)`,
    );
  }
  const own = DEFAULT_ENGINE_BY_OS[platform.os.id] ?? 'mariadb';
  const offered = DB_ENGINE_NAMES.filter((name) => platform.candidates[name] !== undefined);
  const kind = running ?? pin ?? (offered.length === 0 || offered.includes(own) ? own : (offered[0] as DbEngineName));
  return dbEngine(kind, platform.installed[kind] ?? platform.candidates[kind]);
}
