import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Secret } from '../../src/core/secret.js';
import type { Host, Inventory, Role, Vars } from '../../src/inventory/model.js';
import type { RoleSecrets } from '../../src/roles/secrets.js';

export const EXAMPLE_APP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'app');

function host(name: string, address: string, roles: Role[], vars: Vars = {}): Host {
  return {
    name,
    address,
    roles,
    vars,
    groups: [],
    ssh: {
      hostName: address,
      user: 'root',
      port: 22,
      defaulted: [],
      identityFile: '/root/.ssh/id_ed25519',
      configFile: '/root/.ssh/config',
      configFileNamed: false,
      hostKey: {},
      connectTimeout: 10,
    },
  };
}

/**
 * The inventory the role tests start from: two lb hosts sharing 10.0.0.100/24, two web hosts,
 * two app hosts on port 8000, a db primary (db1) with two replicas (db2, db3).
 */
export function testInventory(overrides: Partial<Inventory> = {}): Inventory {
  return {
    file: '/srv/infra/inventory.yaml',
    stateDir: '/srv/infra/.infra',
    domain: 'www.foobar.com',
    vip: '10.0.0.100',
    vipPrefix: 24,
    firewall: { adminSources: ['10.0.0.1/32'], extraRules: [] },
    extraFiles: [],
    monitoring: { sources: ['10.0.0.1/32'] },
    tls: { kind: 'ca', keyType: 'ecdsa-p256', days: 90 },
    db: {
      primary: 'db1',
      replicas: ['db2', 'db3'],
      name: 'shop',
      user: 'shopper',
      password: { kind: 'generate', id: 'db.password' },
      replicationPassword: { kind: 'generate', id: 'db.replication_password' },
      extraAccounts: [],
    },
    app: { source: EXAMPLE_APP_DIR, port: 8000, keepReleases: 5 },
    hosts: [
      host('lb1', '10.0.0.11', ['lb'], { vrrp_interface: 'host0' }),
      host('lb2', '10.0.0.12', ['lb'], { vrrp_interface: 'host0' }),
      host('web1', '10.0.0.21', ['web']),
      host('web2', '10.0.0.22', ['web']),
      host('app1', '10.0.0.31', ['app']),
      host('app2', '10.0.0.32', ['app']),
      host('db1', '10.0.0.41', ['db']),
      host('db2', '10.0.0.42', ['db']),
      host('db3', '10.0.0.43', ['db']),
    ],
    groups: {},
    ...overrides,
  };
}

/** The test inventory with a monitor host, mon1 at 10.0.0.51. */
export function monitoredInventory(overrides: Partial<Inventory> = {}): Inventory {
  const inventory = testInventory(overrides);
  return { ...inventory, hosts: [...inventory.hosts, host('mon1', '10.0.0.51', ['monitor'])] };
}

export function hostOf(inventory: Inventory, name: string): Host {
  const found = inventory.hosts.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no host ${name} in the test inventory`);
  return found;
}

/** Clear texts distinct enough that finding one in rendered text can only mean a leak. */
export const CLEAR = {
  appPassword: 'app-Pa55word-9f2c',
  replicationPassword: 'repl-Pa55word-71ab',
  exporterPassword: 'exporterPa55word3d0e',
  tlsKey: '-----BEGIN PRIVATE KEY-----\nTEST-KEY-MATERIAL-5c1e\n-----END PRIVATE KEY-----\n',
  dbTlsKey: '-----BEGIN PRIVATE KEY-----\nTEST-DB-KEY-MATERIAL-8a4d\n-----END PRIVATE KEY-----\n',
};

export function testSecrets(): RoleSecrets {
  return {
    db: {
      appPassword: new Secret(CLEAR.appPassword),
      replicationPassword: new Secret(CLEAR.replicationPassword),
      exporterPassword: new Secret(CLEAR.exporterPassword),
    },
    tls: {
      certificateChain: '-----BEGIN CERTIFICATE-----\nTEST-CERT\n-----END CERTIFICATE-----\n',
      key: new Secret(CLEAR.tlsKey),
      caCertificate: '-----BEGIN CERTIFICATE-----\nTEST-CA\n-----END CERTIFICATE-----\n',
    },
    dbTls: {
      certificate: '-----BEGIN CERTIFICATE-----\nTEST-DB-CERT\n-----END CERTIFICATE-----\n',
      key: new Secret(CLEAR.dbTlsKey),
      caCertificate: '-----BEGIN CERTIFICATE-----\nTEST-CA\n-----END CERTIFICATE-----\n',
    },
    dbCaCertificate: '-----BEGIN CERTIFICATE-----\nTEST-CA\n-----END CERTIFICATE-----\n',
  };
}
