import type { Host, Inventory } from '../inventory/model.js';
import { resolveSecret } from '../inventory/secrets.js';
import type { RoleSecrets } from '../roles/secrets.js';
import { dbCaCertificate, dbTlsMaterial, webTlsMaterial } from '../tls/index.js';

export interface RoleSecretOptions {
  /**
   * The host was reinstalled (--replace-host): a web host gets a new certificate and key from
   * infra's CA, so the key the old installation held (on a disk that may be reused, or after a
   * compromise) is never served again; a db host gets a new db certificate likewise.
   */
  reinstalled?: boolean;
}

/**
 * Resolves the secrets and certificates a host's roles write, before rendering, so the roles stay
 * pure. Each host gets only what its roles need.
 */
export async function resolveRoleSecrets(inventory: Inventory, host: Host, options: RoleSecretOptions = {}): Promise<RoleSecrets> {
  const secrets: RoleSecrets = {};
  if (host.roles.includes('db') || host.roles.includes('app')) {
    secrets.db = {
      appPassword: await resolveSecret(inventory.db.password, inventory),
      replicationPassword: await resolveSecret(inventory.db.replicationPassword, inventory),
      exporterPassword: await resolveSecret({ kind: 'generate', id: 'db.exporter_password' }, inventory),
    };
  }
  if (host.roles.includes('db')) secrets.dbTls = await dbTlsMaterial(inventory, host, { forceNew: options.reinstalled === true });
  if (host.roles.includes('app')) secrets.dbCaCertificate = await dbCaCertificate(inventory);
  if (host.roles.includes('web')) secrets.tls = await webTlsMaterial(inventory, host, { forceNew: options.reinstalled === true });
  return secrets;
}
