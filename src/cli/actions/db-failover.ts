import { UserError } from '../../core/errors.js';
import { decideFailover, inventoryDbFlavor, promote, readDbHosts, rewriteInventoryFile } from '../../db/failover.js';
import { readDbPlatforms } from '../../engine/db-platform.js';
import { Fleet } from '../../engine/fleet.js';
import { lockFleet, parseWaitLock, takeoverWarning, type FleetLock } from '../../engine/lock.js';
import { selectRun } from '../../engine/prepare.js';
import { ROLE } from '../../inventory/model.js';
import { hostsWithRole } from '../../roles/topology.js';
import { confirmed } from '../confirm.js';
import { Progress } from '../progress.js';
import { passphrasePrompt } from '../passphrase.js';
import type { GlobalOptions } from '../options.js';
import { hostColumnWidth } from '../columns.js';
import { provision } from './provision.js';

/**
 * Reads the db hosts, decides, asks, promotes, rewrites the inventory, then provisions the
 * reachable db hosts and the app hosts from it: the same engine and checks as any provision.
 */
export async function failover(file: string, options: { to?: string; waitLock?: string }, globals: GlobalOptions): Promise<number> {
  const waitSeconds = parseWaitLock(options.waitLock);
  const { inventory } = await selectRun(file, undefined);
  const dbHosts = hostsWithRole(inventory, ROLE.db);
  const progress = await Progress.create(!globals.json && !globals.quiet, Boolean(globals.verbose));
  progress.start('reading the db hosts');
  const askPassphrase = passphrasePrompt(progress);
  const fleet = await Fleet.connect(inventory, dbHosts, {
    forks: dbHosts.length,
    acceptNewHostKeys: false,
    replaceHostKeys: new Set(),
    ...(askPassphrase ? { askPassphrase } : {}),
  });
  let newPrimary: string;
  let lock: FleetLock | undefined;
  try {
    // Held while the db hosts are read and one is promoted; the provision that follows takes its own.
    lock = await lockFleet(
      fleet,
      dbHosts.map((host) => host.name),
      { command: 'db failover', waitSeconds, forks: dbHosts.length },
    );
    for (const { host, leftBy } of lock.takenOver) process.stderr.write(`${takeoverWarning(host, leftBy)}\n`);
    const flavor = inventoryDbFlavor(inventory, await readDbPlatforms(fleet, dbHosts));
    const readings = await readDbHosts(inventory, fleet, flavor).finally(() => progress.stop());
    const decision = decideFailover(flavor, inventory.db.primary, inventory.db.replicas, readings, options.to);
    newPrimary = decision.newPrimary;
    const out = (text: string) => process.stdout.write(text);
    const width = hostColumnWidth(readings.map((reading) => reading.host.name));
    for (const reading of readings) {
      const state = reading.db
        ? `${reading.db.readOnly ? 'read-only' : 'writable'}, holds ${reading.db.gtidPosition || '(nothing)'}`
        : `not read: ${reading.error}`;
      out(`${reading.host.name.padEnd(width)} ${state}\n`);
    }
    out(
      `\nfailover: promote ${decision.newPrimary} in place of ${decision.oldPrimary}\n` +
        `  inventory ${file}: db.primary ${decision.newPrimary}, db.replicas [${decision.replicas.join(', ')}]\n` +
        `  then provision the reachable db hosts and the app hosts (app hosts one at a time)\n` +
        `  may have been lost: ${decision.lost}\n\n`,
    );
    if (!(await confirmed(globals, `Promote ${decision.newPrimary}?`, 'fail over'))) return 1;
    await promote(fleet, decision.newPrimary, flavor);
    await rewriteInventoryFile(file, decision.newPrimary, decision.replicas);
    out(`${decision.newPrimary} takes writes; ${file} names it db.primary\n\n`);
  } finally {
    progress.stop();
    await lock?.release();
    fleet.close();
  }
  const reachable = new Set([
    ...hostsWithRole(inventory, ROLE.app).map((h) => h.name),
    ...dbHosts.filter((h) => !fleet.failures.has(h.name)).map((h) => h.name),
  ]);
  const code = await provision(file, { waitLock: options.waitLock }, { ...globals, yes: true, limit: [...reachable] });
  if (code !== 0)
    throw new UserError(
      `${newPrimary} is the primary and the inventory says so, but provisioning the db and app hosts failed (above): fix it and run infra provision`,
    );
  return 0;
}
