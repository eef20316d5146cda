import { planDbReplication } from '../db/replication.js';
import { serverReads } from './server-reads.js';
import type { ResourceKind } from './kind.js';

/**
 * The kind's wiring; its SQL, its reading and its planning live with the rest of replication in
 * db/replication.ts. It has no steps of its own in a change script: the switchover spans hosts,
 * so the engine runs it first in the db phase (see applyPlans).
 */
export const dbReplicationKind: ResourceKind<'db-replication'> = {
  kind: 'db-replication',
  label: (resource) => (resource.primary.name === resource.host ? `db primary ${resource.host}` : `db replica of ${resource.primary.name}`),
  plan: planDbReplication,
  probe: serverReads,
  /** The primary ends writable, replicating from nobody; a replica's work is its commands'. */
  converge(resource, _action, facts) {
    if (facts.db && resource.primary.name === resource.host) {
      facts.db = { readOnly: false, gtidState: facts.db.gtidState, gtidPosition: facts.db.gtidPosition };
    }
  },
};
