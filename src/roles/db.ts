import { quoteCommand, quoteWord } from '../core/shell.js';
import { Secret } from '../core/secret.js';
import type { CommandResource, HealthCheck, PhaseDesire, Resource } from '../core/types.js';
import type { Host, Inventory } from '../inventory/model.js';
import { ROLE_PORTS } from '../inventory/ports.js';
import type { RoleDefinition } from './definition.js';
import { replicationCheck } from './health.js';
import { chooseDbFlavor, DB_SERVER_PACKAGES, DB_TLS, dbEngine, type DbEngineName, type DbFlavor, type DbPlatform } from './db-engines.js';
import { renderTemplate } from './render.js';
import { requireDbSecrets, requireDbTls, type RoleSecrets } from './secrets.js';
import { mysqlScript, sqlString } from '../core/mysql-client.js';
import { cachingSha2PasswordHash, ed25519PasswordHash, nativePasswordHash, sqlAccount, sqlIdentifier } from './sql.js';
import { hostNamed, hostsWithRole, integerVar, stringVar } from './topology.js';

export { DB_TLS, type DbFlavor } from './db-engines.js';

/**
 * The server of a db host. With its platform (read from the host before rendering, see
 * src/engine/db-platform.ts): what is installed, else the `db_engine` pin, else the distribution's
 * own, at the version installed or to be installed (chooseDbFlavor). Without it (`infra render`,
 * a host not reached): the pin, else `os_family` (Debian: MariaDB, Ubuntu: MySQL). The differences
 * between engines and versions are rows of DB_ENGINES.
 */
export function dbFlavor(host: Host, platform?: DbPlatform): DbFlavor {
  const pinned = stringVar(host, 'db_engine');
  const pin = pinned === 'auto' ? undefined : (pinned as DbEngineName);
  if (platform) return chooseDbFlavor(host.name, pin, platform);
  return dbEngine(pin ?? (stringVar(host, 'os_family') === 'ubuntu' ? 'mysql' : 'mariadb'));
}

/**
 * Server variables that 60-infra.cnf sets, read back to tell whether the running server uses them.
 * read_only is not among them: it changes with the host's place in replication, live, without a
 * restart (see readOnlyFile).
 */
function liveSettings(flavor: DbFlavor, s: { serverId: number; address: string }): [variable: string, value: string][] {
  return [
    ['server_id', String(s.serverId)],
    ['bind_address', s.address],
    ['skip_name_resolve', '1'],
    ['log_bin', '1'],
    ['binlog_format', 'ROW'],
    // Read at startup only: a server that runs without it has not loaded its certificate.
    ['ssl_cert', DB_TLS.certificate],
    ...flavor.gtidSettings.map(({ variable, live }): [string, string] => [variable, live]),
  ];
}

/**
 * Whether a db host's platform makes it render otherwise than the inventory alone does (another
 * engine or version row, or a refusal): only then is it rendered again, its secrets resolved and
 * its password hashes computed a second time.
 */
export function platformChangesRendering(host: Host, platform: DbPlatform): boolean {
  try {
    return dbFlavor(host, platform) !== dbFlavor(host);
  } catch {
    return true;
  }
}

const SOCKET = '/run/mysqld/mysqld.sock';
/** The exporter reads these tables, and no other: no global SELECT on the app's data. */
const EXPORTER_SCHEMA = { name: 'performance_schema', privileges: ['SELECT'] };
const REPLICATION_USER = 'repl';
const EXPORTER_USER = 'exporter';
const EXPORTER = 'prometheus-mysqld-exporter';
const EXPORTER_DEFAULTS = `/etc/default/${EXPORTER}`;
/**
 * The exporter's credentials, in a folder only root can change, readable by the exporter's group:
 * not in its home (/var/lib/prometheus, the prometheus user's), where that user could plant a link
 * for root's write to follow. The exporter is pointed at it by --config.my-cnf.
 */
const EXPORTER_CONFIG_DIR = '/etc/prometheus';
const EXPORTER_MY_CNF = `${EXPORTER_CONFIG_DIR}/mysqld-exporter.my.cnf`;
const APP_PRIVILEGES = ['CREATE', 'DELETE', 'INSERT', 'SELECT', 'UPDATE'];

interface Account {
  user: string;
  host: string;
  password: Secret;
  /** Global privileges, as information_schema.USER_PRIVILEGES lists them (sorted). */
  global: string[];
  /** Privileges on one database, if any. */
  database?: { name: string; privileges: string[] };
  /** The plugin of the account's password. */
  plugin: DbFlavor['accountPlugin'] | DbFlavor['exporterPlugin'];
}

/** The accounts infra creates on the primary, with the name of the secret each one's password is. */
function desiredAccounts(
  inventory: Inventory,
  flavor: DbFlavor,
): (Omit<Account, 'password'> & { password: 'appPassword' | 'replicationPassword' | 'exporterPassword' })[] {
  const name = inventory.db.name;
  return [
    // Reads go to the replicas too: these accounts reach them by replication.
    ...hostsWithRole(inventory, 'app').map((app) => ({
      user: inventory.db.user,
      host: app.address,
      password: 'appPassword' as const,
      global: [],
      database: { name, privileges: APP_PRIVILEGES },
      plugin: flavor.accountPlugin,
    })),
    // Every db host, the primary too: any may become a replica of another by a switchover or a
    // failover, and then finds its account on its new primary (it came there by replication).
    ...hostsWithRole(inventory, 'db').map((dbHost) => ({
      user: REPLICATION_USER,
      host: dbHost.address,
      password: 'replicationPassword' as const,
      global: ['REPLICATION SLAVE'],
      plugin: flavor.accountPlugin,
    })),
    {
      user: EXPORTER_USER,
      host: 'localhost',
      password: 'exporterPassword' as const,
      global: flavor.exporterPrivileges,
      database: EXPORTER_SCHEMA,
      plugin: flavor.exporterPlugin,
    },
  ];
}

/** The server's own accounts, which infra never drops (MariaDB's and MySQL's, and Debian's). */
const SYSTEM_ACCOUNTS = ['root', 'mysql', 'mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema', 'debian-sys-maint'];

/**
 * On the primary, after every other phase: drops the accounts infra did not create (those of
 * hosts that left the inventory, and any added by hand) but the server's own and those the
 * inventory keeps (`db.extra_accounts`). DROP USER replicates, so the replicas follow. The guard's
 * query lists the accounts it would drop, so check names them.
 */
export function dbAccountsCleanup(inventory: Inventory, host: Host, platform?: DbPlatform): CommandResource | undefined {
  if (inventory.db.primary !== host.name || !host.roles.includes('db')) return undefined;
  const kept = [...desiredAccounts(inventory, dbFlavor(host, platform)).map((account) => `${account.user}@${account.host}`), ...inventory.db.extraAccounts];
  const systemUsers = SYSTEM_ACCOUNTS.map(sqlString).join(', ');
  const where = `WHERE NOT (Host = 'localhost' AND User IN (${systemUsers})) AND CONCAT(User, '@', Host) NOT IN (${kept.map(sqlString).join(', ')})`;
  const list = `SELECT COALESCE(GROUP_CONCAT(CONCAT(User, '@', Host) ORDER BY User, Host SEPARATOR ', '), '') FROM mysql.user ${where}`;
  const drops = `SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user ${where}`;
  return {
    kind: 'command',
    name: 'drop db accounts infra did not create',
    script: `${mysqlScript([drops], '-N -B')} | mysql`,
    unless: { sql: list, expected: '', showsAs: 'not created by infra (keep them with db.extra_accounts)' },
  };
}

/** Where require_secure_transport is kept for restarts; its own file, written last (see dbSecureTransport). */
function secureTransportFile(flavor: DbFlavor): string {
  return flavor.configFiles.secureTransport;
}

/**
 * On every db host, in the cleanup phase: the server refuses clients that do not use TLS (or the
 * unix socket, which it counts as secure: root's commands and the exporter use it). Last, once
 * the app phase has moved every app host to TLS and every replica replicates over TLS, so that
 * turning it on in a deployment that ran without TLS cuts no client: set live, then kept in a
 * file that restarts nothing.
 */
export function dbSecureTransport(inventory: Inventory, host: Host, platform?: DbPlatform): Pick<PhaseDesire, 'resources' | 'validators'> {
  if (!host.roles.includes('db')) return { resources: [], validators: [] };
  const flavor = dbFlavor(host, platform);
  const config = renderTemplate('db/62-infra-secure-transport.cnf.ejs', {}, inventory.templatesDir);
  return {
    resources: [
      { kind: 'file', path: secureTransportFile(flavor), content: config, mode: '0644', owner: 'root', group: 'root' },
      {
        kind: 'command',
        name: 'clients only over TLS',
        script: mysqlScript(['SET GLOBAL require_secure_transport = ON;']),
        unless: { sql: 'SELECT @@GLOBAL.require_secure_transport + 0', expected: '1' },
      },
    ],
    validators: [{ name: `${flavor.service} config`, script: flavor.validate }],
  };
}

/**
 * The authentication plugin of an account and the stored form of its password, computed here so
 * that the clear password never reaches the server: `stored` is what the guard compares
 * authentication_string with, `hash` every form of it that appears in the SQL (all redacted).
 * MariaDB: ed25519 (its plugins installed by edPluginCommand and edClientPluginCommand; the app's
 * pymysql speaks it with python3-nacl). MySQL: caching_sha2_password, its salted SHA-256 crypt
 * given in hex (the salt may hold any printable character).
 */
function accountAuthentication(account: Account): { plugin: string; hashes: string[]; stored: string; identified: string } {
  const password = account.password.reveal();
  if (account.plugin === 'ed25519') {
    const hash = ed25519PasswordHash(password);
    return { plugin: 'ed25519', hashes: [hash], stored: sqlString(hash), identified: `IDENTIFIED VIA ed25519 USING ${sqlString(hash)}` };
  }
  if (account.plugin === 'caching_sha2_password') {
    const hash = cachingSha2PasswordHash(password, `${account.user}@${account.host}`);
    const hex = `0x${Buffer.from(hash).toString('hex').toUpperCase()}`;
    return { plugin: 'caching_sha2_password', hashes: [hash, hex], stored: hex, identified: `IDENTIFIED WITH caching_sha2_password AS ${hex}` };
  }
  // Only MariaDB's exporter account is native (see DbFlavor.exporterPlugin): MariaDB's syntax.
  const hash = nativePasswordHash(password);
  return {
    plugin: 'mysql_native_password',
    hashes: [hash],
    stored: sqlString(hash),
    identified: `IDENTIFIED VIA mysql_native_password USING ${sqlString(hash)}`,
  };
}

/**
 * MariaDB's ed25519 plugin, on every db host: a replica needs it to apply the accounts it receives
 * and to check their logins. Out of the binlog (sql_log_bin = 0): it is each server's own.
 */
function edPluginCommand(): CommandResource {
  return {
    kind: 'command',
    name: 'ed25519 authentication plugin',
    script: mysqlScript(['SET SESSION sql_log_bin = 0;', "INSTALL SONAME 'auth_ed25519';"]),
    unless: { sql: "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519' AND PLUGIN_STATUS = 'ACTIVE'", expected: '1' },
  };
}

/**
 * The client half of ed25519, for a replica's connection to its primary. The server loads it from
 * its plugin_dir, but Debian 12 ships it only with libmariadb3, in a multiarch folder: without
 * this link a replica whose account is ed25519 cannot connect ("client_ed25519 cannot be loaded").
 */
const CLIENT_ED25519 = '/usr/lib/mysql/plugin/client_ed25519.so';
function edClientPluginCommand(): CommandResource {
  return {
    kind: 'command',
    name: "ed25519 client plugin in the server's plugin folder",
    script: `__so=$(dpkg -L libmariadb3 | grep -m1 '/plugin/client_ed25519\\.so$') && ln -sfn -- "$__so" ${quoteWord(CLIENT_ED25519)}`,
    unless: `[ -e ${quoteWord(CLIENT_ED25519)} ]`,
  };
}

/**
 * An account with exactly its plugin, password and privileges. The guard compares the plugin,
 * the stored hash and the privilege lists, so a changed password, an account of an older plugin
 * (ALTER USER moves it, its sessions go on) or a drifted grant is put right. The account is
 * created with the password's hash, never the clear text.
 */
function accountCommand(account: Account): CommandResource {
  const who = sqlAccount(account.user, account.host);
  const { plugin, hashes, stored, identified } = accountAuthentication(account);
  const grantee = sqlString(`'${account.user}'@'${account.host}'`);
  const schemaGrants = account.database ? account.database.privileges.map((privilege) => `${account.database?.name}:${privilege}`).join(',') : '';
  const guard = [
    `(SELECT COUNT(*) FROM mysql.user WHERE User = ${sqlString(account.user)} AND Host = ${sqlString(account.host)}`,
    ` AND plugin = ${sqlString(plugin)} AND authentication_string = ${stored}) = 1`,
    ` AND (SELECT COALESCE(GROUP_CONCAT(PRIVILEGE_TYPE ORDER BY PRIVILEGE_TYPE), '') FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${grantee}) = ${sqlString(account.global.length > 0 ? account.global.join(',') : 'USAGE')}`,
    ` AND (SELECT COALESCE(GROUP_CONCAT(CONCAT(TABLE_SCHEMA, ':', PRIVILEGE_TYPE) ORDER BY TABLE_SCHEMA, PRIVILEGE_TYPE), '') FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ${grantee}) = ${sqlString(schemaGrants)}`,
  ].join('');
  const statements = [
    `CREATE USER IF NOT EXISTS ${who} ${identified};`,
    `ALTER USER ${who} ${identified};`,
    `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${who};`,
  ];
  if (account.global.length > 0) statements.push(`GRANT ${account.global.join(', ')} ON *.* TO ${who};`);
  if (account.database) {
    statements.push(`GRANT ${account.database.privileges.join(', ')} ON ${sqlIdentifier(account.database.name)}.* TO ${who};`);
  }
  return {
    kind: 'command',
    name: `db account ${account.user}@${account.host}`,
    script: mysqlScript(statements),
    unless: { sql: `SELECT ${guard}`, expected: '1' },
    // The hash is not the password, but it allows guessing it offline: redact it too.
    secrets: [account.password, ...hashes.map((hash) => new Secret(hash))],
  };
}

/**
 * Replication from the primary by GTID, over TLS: the replica checks that the primary's
 * certificate comes from infra's CA and names the address it connects to. A fresh replica starts with an empty GTID position, so it
 * replays the primary's binlog from its very first event. That is complete because the primary
 * turns on its binlog (the "runs with infra settings" command) before it creates the database
 * and the accounts: the replica receives them, the app and exporter accounts included, which is
 * why accounts are created on the primary only (a replica is read_only and its own writes would
 * break GTID strict mode). This relies on the primary keeping its binlogs (they are not expired by
 * default); a replica added after they are purged must be seeded from a dump first.
 */
function replicationCommand(flavor: DbFlavor, primary: Host, password: Secret): CommandResource {
  const source = { address: primary.address, port: String(ROLE_PORTS.mysql), user: REPLICATION_USER };
  // Configured for this primary AND both threads running: a replica that stopped is restarted.
  const guard = replicationGuard(flavor.replication.status, flavor.replication.expected(source));
  const statements = flavor.replication.statements({ ...source, password: password.reveal() });
  return {
    kind: 'command',
    name: `replicates from ${primary.name}`,
    // The IO thread takes a moment to connect: the command succeeds once both threads run, and
    // still do a second later (an applier runs until the first transaction it cannot apply: both
    // threads showed Yes for an instant on a MySQL replica whose GTID record had been reset, and
    // the verify after the command failed). When they do not, the threads' last errors say why.
    script:
      `${mysqlScript(statements)} && __ok= && for __i in $(seq 40); do if ( ${guard} ); then sleep 1; ( ${guard} ) && __ok=1; break; fi; sleep 0.5; done && ` +
      `{ [ -n "$__ok" ] || { mysql --vertical <<< ${quoteWord(flavor.replication.status)} | grep -E '^ *Last_(IO|SQL)_Error: .' >&2; false; }; }`,
    unless: guard,
    secrets: [password],
  };
}

/** A replica takes writes only from replication, never from a client (root aside). */
function readOnlyCommand(flavor: DbFlavor): CommandResource {
  return {
    kind: 'command',
    name: 'read-only replica',
    script: mysqlScript(flavor.readOnly),
    unless: flavor.readOnlyHeld,
  };
}

/**
 * What a restart brings the server back as: read-only on a replica, writable on the primary. Its
 * own file, which restarts nothing when it changes: a switchover changes read_only live, and a
 * restart would only cut the new primary's first writes.
 */
function readOnlyFile(flavor: DbFlavor): string {
  return flavor.configFiles.readOnly;
}

/**
 * A guard that holds when every `field: value` line of the status output is as expected. Matched
 * by bash itself (no grep per field): this guard runs in every probe of a replica.
 */
function replicationGuard(statement: string, expected: Record<string, string>): string {
  const check = Object.entries(expected)
    .map(([field, value]) => `$__status == *$'\\n'${quoteWord(`${field}: ${value}`)}$'\\n'*`)
    .join(' && ');
  // The vertical output pads field names with spaces; `read` without IFS= trims them.
  return `__status=$'\\n' && while read -r __l; do __status+=$__l$'\\n'; done < <(mysql --vertical <<< ${quoteWord(statement)}) && [[ ${check} ]]`;
}

/**
 * The db phase: the server with the replication settings (primary or replica), the app's
 * database and accounts on the primary, replication on each replica, and the mysqld exporter.
 */
export function dbPhase(inventory: Inventory, host: Host, secrets: RoleSecrets, platform?: DbPlatform): PhaseDesire {
  const db = requireDbSecrets(secrets, host.name);
  const tls = requireDbTls(secrets, host.name);
  const flavor = dbFlavor(host, platform);
  const primary = hostNamed(inventory, inventory.db.primary);
  const isPrimary = primary.name === host.name;
  if (!isPrimary && !inventory.db.replicas.includes(host.name)) {
    throw new Error(`${host.name} has role db but is neither db.primary nor one of db.replicas`);
  }
  // Unique per db host and stable while the inventory lists the db hosts in the same order.
  const serverId = hostsWithRole(inventory, 'db').findIndex((candidate) => candidate.name === host.name) + 1;
  const restartServer = `restart:${flavor.service}`;
  const restartExporter = `restart:${EXPORTER}`;
  const root = { owner: 'root', group: 'root' };
  const exporterPassword = db.exporterPassword.reveal();
  // The credentials file is read by the exporter's ini parser and by mysql's: a password made of
  // these characters means the same to both without quoting.
  if (!/^[A-Za-z0-9_.~+/=-]+$/.test(exporterPassword)) throw new Error('the exporter password must be made of letters, digits and _.~+/=-');

  // The same on every host whatever its place in replication: a switchover restarts no server.
  const config = renderTemplate('db/60-infra.cnf.ejs', { serverId, address: host.address, flavor, tls: DB_TLS }, inventory.templatesDir);
  const readOnlyConfig = renderTemplate('db/61-infra-read-only.cnf.ejs', { hostName: host.name, primary: isPrimary, flavor }, inventory.templatesDir);
  const live = liveSettings(flavor, { serverId, address: host.address });
  const dbHosts = hostsWithRole(inventory, 'db').map((dbHost) => ({ name: dbHost.name, address: dbHost.address }));
  const resources: Resource[] = [
    {
      kind: 'db-replication',
      host: host.name,
      flavor: flavor.kind,
      primary: { name: primary.name, address: primary.address },
      dbHosts,
      appUser: inventory.db.user,
      catchUpSeconds: integerVar(primary, 'switchover_catch_up_seconds'),
    },
    // The server package brings the mysql and mysqladmin clients the commands below use.
    { kind: 'package', name: flavor.package },
    { kind: 'package', name: EXPORTER },
    // A new certificate or CA bundle is loaded by FLUSH SSL (below), not a restart: a renewal or a
    // CA rotation must not stop the primary's writes.
    { kind: 'file', path: DB_TLS.ca, content: tls.caCertificate, mode: '0644', ...root },
    { kind: 'file', path: DB_TLS.certificate, content: tls.certificate, mode: '0644', ...root },
    { kind: 'file', path: DB_TLS.key, content: tls.key.reveal(), mode: '0640', owner: 'root', group: 'mysql', secrets: [tls.key] },
    { kind: 'file', path: flavor.configFiles.settings, content: config, mode: '0644', ...root, notify: [restartServer] },
    { kind: 'file', path: readOnlyFile(flavor), content: readOnlyConfig, mode: '0644', ...root },
    { kind: 'directory', path: EXPORTER_CONFIG_DIR, mode: '0755', ...root },
    {
      kind: 'file',
      path: EXPORTER_MY_CNF,
      content: renderTemplate('db/exporter.my.cnf.ejs', { password: exporterPassword, socket: SOCKET }, inventory.templatesDir),
      mode: '0640',
      owner: 'root',
      group: 'prometheus',
      secrets: [db.exporterPassword],
      notify: [restartExporter],
    },
    {
      kind: 'file',
      path: EXPORTER_DEFAULTS,
      content: renderTemplate(
        'db/prometheus-mysqld-exporter.default.ejs',
        { myCnf: EXPORTER_MY_CNF, address: host.address, port: ROLE_PORTS.mysqldExporter },
        inventory.templatesDir,
      ),
      mode: '0644',
      ...root,
      notify: [restartExporter],
    },
    {
      // Commands run before handlers, and the primary must binlog from before its first write (see
      // replicationCommand), so a server not yet running with these settings is restarted here.
      kind: 'command',
      name: `${flavor.service} runs with infra settings`,
      script: `systemctl restart ${quoteWord(`${flavor.service}.service`)} && mysqladmin --silent ping`,
      // This restart reads the settings file written before it: the file's own restart handler
      // would only restart every db host of a first install a second time.
      carriesOut: [restartServer],
      // Numeric settings are read as numbers: in a string context MariaDB shows booleans as ON/OFF.
      unless: {
        sql: `SELECT CONCAT_WS(',', ${live.map(([variable, value]) => (/^\d+$/.test(value) ? `@@GLOBAL.${variable} + 0` : `@@GLOBAL.${variable}`)).join(', ')})`,
        expected: live.map(([, value]) => value).join(','),
      },
    },
  ];
  if (flavor.ed25519Plugins) resources.push(edPluginCommand(), edClientPluginCommand());
  resources.push({
    kind: 'command',
    name: `${flavor.service} serves the current certificate`,
    script: mysqlScript([flavor.reloadTls]),
    // It has nothing to read on the host: it runs when one of the files changes in the run.
    unless: 'true',
    runsWhenChanged: [DB_TLS.ca, DB_TLS.certificate, DB_TLS.key],
  });
  if (isPrimary) {
    const name = inventory.db.name;
    resources.push({
      kind: 'command',
      name: `database ${name}`,
      script: mysqlScript([`CREATE DATABASE IF NOT EXISTS ${sqlIdentifier(name)};`]),
      unless: { sql: `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${sqlString(name)}`, expected: '1' },
    });
    const accounts = desiredAccounts(inventory, flavor).map((account) => ({ ...account, password: db[account.password] }));
    resources.push(...accounts.map(accountCommand));
  } else {
    resources.push(readOnlyCommand(flavor), replicationCommand(flavor, primary, db.replicationPassword));
  }
  resources.push({ kind: 'service', name: flavor.service, enabled: true, running: true }, { kind: 'service', name: EXPORTER, enabled: true, running: true });

  return {
    phase: 'db',
    resources,
    // The primary's restarts (settings, then handlers) would cut a replica's first connection to
    // it mid-wait, and the replication account the replica logs in with is created there.
    ...(isPrimary ? {} : { after: [primary.name] }),
    handlers: [
      { id: restartServer, service: flavor.service, action: 'restart', healthCheck: 'mysqladmin --silent ping' },
      {
        id: restartExporter,
        service: EXPORTER,
        action: 'restart',
        // The endpoint, not mysql_up: on a new replica the exporter account arrives by replication.
        healthCheck: quoteCommand(['curl', '-fsS', '-o', '/dev/null', `http://${host.address}:${ROLE_PORTS.mysqldExporter}/metrics`]),
      },
    ],
    validators: [
      { name: `${flavor.service} config`, script: flavor.validate },
      { name: 'mysqld exporter options', script: `. ${EXPORTER_DEFAULTS} && ${EXPORTER} $ARGS --help >/dev/null` },
    ],
  };
}

/** A replica must replicate, and keep up; the primary has nothing to check beyond its configuration. */
function dbHealthChecks(inventory: Inventory, host: Host, platform?: DbPlatform): HealthCheck[] {
  if (inventory.db.primary === host.name) return [];
  return [replicationCheck(dbFlavor(host, platform).replication.status, integerVar(host, 'replication_max_lag_seconds'))];
}

export const dbRole: RoleDefinition = {
  name: 'db',
  tier: 4,
  packages: [DB_SERVER_PACKAGES.mariadb, EXPORTER],
  openings: [
    { port: ROLE_PORTS.mysql, from: [{ role: 'app' }, 'peers'], purpose: 'mysql (app, replicas)' },
    { port: ROLE_PORTS.mysqldExporter, from: ['monitoring'], purpose: 'mysqld exporter (monitoring)', job: 'mysqld' },
  ],
  secrets: ['db', 'dbTls'],
  render: dbPhase,
  healthChecks: dbHealthChecks,
  graphTiers: (inventory) => {
    const named = (names: readonly string[]) => names.flatMap((name) => inventory.hosts.filter((host) => host.name === name));
    return [
      { id: 'db_primary', title: 'DB PRIMARY', note: 'MariaDB, takes writes', hosts: named([inventory.db.primary]) },
      { id: 'db_replicas', title: 'DB REPLICAS', note: 'MariaDB, read-only', hosts: named(inventory.db.replicas) },
    ];
  },
  lab: {
    firstOctet: 41,
    overflowFirstOctet: 191,
    defaultCount: 2,
    maxCount: 50,
    countHelp: 'database hosts (1+; db1 is the primary)',
    countProblem: (count) => (count < 1 ? '--db 0: the inventory needs a database primary; run the lab with --db 1 or more' : undefined),
  },
};
