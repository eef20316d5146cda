import type { Host, Inventory } from '../inventory/model.js';
import { resolveSecret } from '../inventory/secrets.js';
import type { RoleSecrets } from '../roles/secrets.js';
import { webTlsMaterial } from '../tls/index.js';

/**
 * Resolves the secrets and certificates a host's roles write, before rendering, so the roles stay
 * pure. Each host gets only what its roles need.
 */
export async function resolveRoleSecrets(inventory: Inventory, host: Host): Promise<RoleSecrets> {
  const secrets: RoleSecrets = {};
  if (host.roles.includes('db') || host.roles.includes('app')) {
    secrets.db = {
      appPassword: await resolveSecret(inventory.db.password, inventory),
      replicationPassword: await resolveSecret(inventory.db.replicationPassword, inventory),
      exporterPassword: await resolveSecret({ kind: 'generate', id: 'db.exporter_password' }, inventory),
    };
  }
  if (host.roles.includes('web')) secrets.tls = await webTlsMaterial(inventory, host);
  return secrets;
}
