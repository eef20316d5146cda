import type { Host, Inventory } from '../inventory/model.js';
import { resolveSecret } from '../inventory/secrets.js';
import { definitionsOf, ROLE_REGISTRY, type RoleRegistry } from '../roles/registry.js';
import type { RoleSecrets } from '../roles/secrets.js';
import type { SecretPart } from '../roles/definition.js';
import { dbCaCertificate, dbTlsMaterial, webTlsMaterial } from '../tls/index.js';

export interface RoleSecretOptions {
  /**
   * The host was reinstalled (--replace-host): a web host gets a new certificate and key from
   * infra's CA, so the key the old installation held (on a disk that may be reused, or after a
   * compromise) is never served again; a db host gets a new db certificate likewise.
   */
  reinstalled?: boolean;
}

type Resolvers = { [P in SecretPart]-?: (inventory: Inventory, host: Host, options: RoleSecretOptions) => Promise<NonNullable<RoleSecrets[P]>> };

/** How each part of RoleSecrets is resolved; a host's parts are resolved in this order. */
const RESOLVERS: Resolvers = {
  db: async (inventory) => ({
    appPassword: await resolveSecret(inventory.db.password, inventory),
    replicationPassword: await resolveSecret(inventory.db.replicationPassword, inventory),
    exporterPassword: await resolveSecret({ kind: 'generate', id: 'db.exporter_password' }, inventory),
  }),
  dbTls: (inventory, host, options) => dbTlsMaterial(inventory, host, { forceNew: options.reinstalled === true }),
  dbCaCertificate: (inventory) => dbCaCertificate(inventory),
  tls: (inventory, host, options) => webTlsMaterial(inventory, host, { forceNew: options.reinstalled === true }),
};

/**
 * Resolves the secrets and certificates a host's roles write, before rendering, so the roles stay
 * pure. Each host gets only the parts its roles' definitions name.
 */
export async function resolveRoleSecrets(
  inventory: Inventory,
  host: Host,
  options: RoleSecretOptions = {},
  registry: RoleRegistry = ROLE_REGISTRY,
): Promise<RoleSecrets> {
  const needed = new Set(definitionsOf(host.roles, registry).flatMap((role) => role.secrets));
  const secrets: RoleSecrets = {};
  for (const part of Object.keys(RESOLVERS) as SecretPart[]) {
    if (needed.has(part)) Object.assign(secrets, { [part]: await RESOLVERS[part](inventory, host, options) });
  }
  return secrets;
}
