import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DbReplicationFact, DbReplicationResource } from '../../src/core/types.js';
import {
  dbFactProbe,
  dbTopologyDrift,
  errantTransactions,
  parseStateOutput,
  switchPrimary,
  type DbHostReading,
  type ScriptResult,
} from '../../src/db/replication.js';
import { parseProbeOutput } from '../../src/facts/parse.js';

// db1 10.0.0.41, db2 10.0.0.42, db3 10.0.0.43; the inventory names `primary`.
const DB_HOSTS = [
  { name: 'db1', address: '10.0.0.41' },
  { name: 'db2', address: '10.0.0.42' },
  { name: 'db3', address: '10.0.0.43' },
];
function resource(host: string, primary: string): DbReplicationResource {
  return {
    kind: 'db-replication',
    host,
    flavor: 'mariadb',
    primary: DB_HOSTS.find((h) => h.name === primary) as { name: string; address: string },
    dbHosts: DB_HOSTS,
    appUser: 'shopper',
    catchUpSeconds: 30,
  };
}
const writable = (gtidState: string): DbReplicationFact => ({ readOnly: false, gtidState, gtidPosition: gtidState });
const replicaOf = (address: string, gtidState: string): DbReplicationFact => ({
  readOnly: true,
  gtidState,
  gtidPosition: gtidState,
  source: { host: address, ioRunning: 'Yes', sqlRunning: 'Yes', received: gtidState },
});

// Planning on one host: the data cases in test/unit/plan/db-replication/.
describe('across db hosts', () => {
  const reading = (host: string, primary: string, db?: DbReplicationFact): DbHostReading => ({ resource: resource(host, primary), db });

  it('names the errant transactions of a returning old primary', () => {
    const readings = [
      reading('db1', 'db1', writable('0-2-117,0-1-130')),
      reading('db2', 'db1', writable('0-1-100,0-2-120')),
      reading('db3', 'db1', replicaOf('10.0.0.41', '0-2-117,0-1-129')),
    ];
    expect(errantTransactions(readings)).toEqual(new Map([['db2', '0-2-118..0-2-120']]));
  });

  it('does not call errant what a replica received from the primary after the primary was read (writes under way), but its own writes are', () => {
    const later = { ...replicaOf('10.0.0.41', '0-1-124'), source: { host: '10.0.0.41', ioRunning: 'Yes', sqlRunning: 'Yes', received: '0-1-124' } };
    expect(errantTransactions([reading('db1', 'db1', writable('0-1-120')), reading('db2', 'db1', later)]).size).toBe(0);
    const ownWrite = { ...later, gtidState: '0-1-124,0-2-7' };
    expect(errantTransactions([reading('db1', 'db1', writable('0-1-120')), reading('db2', 'db1', ownWrite)])).toEqual(new Map([['db2', '0-2-1..0-2-7']]));
    // Received from another source than the primary: nothing is excused.
    const elsewhere = { ...later, source: { ...later.source, host: '10.0.0.43' } };
    expect(errantTransactions([reading('db1', 'db1', writable('0-1-120')), reading('db2', 'db1', elsewhere)])).toEqual(new Map([['db2', '0-1-121..0-1-124']]));
  });

  it('does not call errant the transactions of the old primary a switchover is about to catch up with', () => {
    const readings = [reading('db2', 'db2', replicaOf('10.0.0.41', '0-1-120')), reading('db1', 'db2', writable('0-1-125'))];
    expect(errantTransactions(readings).size).toBe(0);
  });

  it("reports two writable hosts, a primary other than the inventory's, and a replica of the wrong source", () => {
    const readings = [
      reading('db1', 'db1', writable('0-1-5')),
      reading('db2', 'db1', writable('0-1-5')),
      reading('db3', 'db1', replicaOf('10.0.0.42', '0-1-5')),
    ];
    expect(dbTopologyDrift(readings)).toEqual([
      'db1 and db2 are writable at once: two primaries can take writes (split brain)',
      "db2 acts as a primary (writable, replicating from nobody) but the inventory's primary is db1",
      'db3 replicates from db2 (10.0.0.42), not from the primary db1 (10.0.0.41)',
    ]);
    expect(dbTopologyDrift([reading('db1', 'db1', replicaOf('10.0.0.42', '')), reading('db2', 'db1', writable(''))])[0]).toBe(
      "the inventory's primary db1 replicates from 10.0.0.42",
    );
  });

  it('finds nothing wrong with the primary and its replicas', () => {
    expect(
      dbTopologyDrift([reading('db1', 'db1', writable('0-1-5')), reading('db2', 'db1', replicaOf('10.0.0.41', '0-1-5')), reading('db3', 'db1', undefined)]),
    ).toEqual([]);
  });
});

describe('the replication facts in the probe', () => {
  /** dbFactProbe run by bash against a stand-in `mysql` with this body; each start of it is counted. */
  function probeWith(mysqlBody: string[], flavor: 'mariadb' | 'mysql'): { stdout: string; starts: number } {
    const bin = mkdtempSync(join(tmpdir(), 'infra-dbfact-'));
    writeFileSync(join(bin, 'mysql'), ['#!/bin/bash', `echo x >> ${bin}/starts`, 'sql=$(cat)', ...mysqlBody].join('\n'));
    chmodSync(join(bin, 'mysql'), 0o755);
    const run = spawnSync('bash', ['-c', dbFactProbe(flavor)], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
    const starts = spawnSync('cat', [join(bin, 'starts')], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean).length;
    return { stdout: run.stdout, starts };
  }

  it('reads read_only, the GTID state and then the source from the server in one mysql run', () => {
    // What `mysql -B` prints: the state's column names and row, then the replica status's. The
    // state comes first: a transaction applied between the two reads is then among those received.
    const { stdout, starts } = probeWith(
      [
        '[[ $sql == "SELECT \'DB\' AS infra_tag, \'state\' AS infra_key, @@GLOBAL.read_only + 0, "*";"$\'\\n\'"SHOW SLAVE STATUS;"* ]] || exit 9',
        'printf "infra_tag\\tinfra_key\\t@@GLOBAL.read_only + 0\\n"',
        'printf "DB\\tstate\\t1\\t0-1-7,0-2-3\\t0-1-7\\n"',
        'printf "Slave_IO_State\\tMaster_Host\\tSlave_IO_Running\\tSlave_SQL_Running\\tLast_Error\\tGtid_IO_Pos\\n"',
        'printf "Waiting for master to send event\\t10.0.0.41\\tYes\\tNo\\t\\t0-1-9\\n"',
      ],
      'mariadb',
    );
    expect(starts).toBe(1);
    expect(parseProbeOutput(stdout, '10.0.0.1').db).toEqual({
      readOnly: true,
      gtidState: '0-1-7,0-2-3',
      gtidPosition: '0-1-7',
      source: { host: '10.0.0.41', ioRunning: 'Yes', sqlRunning: 'No', received: '0-1-9' },
    });
  });

  it('reads a GTID set that MySQL breaks over lines whole', () => {
    const { stdout } = probeWith(
      [
        'printf "Replica_IO_State\\tSource_Host\\tReplica_IO_Running\\tReplica_SQL_Running\\tRetrieved_Gtid_Set\\n"',
        'printf "\\t10.0.0.41\\tConnecting\\tYes\\tu1:1-40,\\\\\\\\nu2:1-3\\n"',
        'printf "infra_tag\\tinfra_key\\tx\\nDB\\tstate\\t1\\tu1:1-40,u2:1-3\\tu1:1-40,u2:1-3\\n"',
      ],
      'mysql',
    );
    expect(parseProbeOutput(stdout, '10.0.0.1').db?.source).toEqual({
      host: '10.0.0.41',
      ioRunning: 'Connecting',
      sqlRunning: 'Yes',
      received: 'u1:1-40,u2:1-3',
    });
  });

  it('reads a primary (no replica status) as replicating from nobody', () => {
    const { stdout } = probeWith(['printf "infra_tag\\tinfra_key\\tx\\nDB\\tstate\\t0\\tu1:1-40\\tu1:1-40\\n"'], 'mysql');
    expect(parseProbeOutput(stdout, '10.0.0.1').db).toEqual({ readOnly: false, gtidState: 'u1:1-40', gtidPosition: 'u1:1-40' });
  });

  it('says nothing when the server does not answer', () => {
    const { stdout } = probeWith(['echo "ERROR 2002 (HY000): Can\'t connect" >&2', 'exit 1'], 'mariadb');
    expect(stdout).toBe('');
    expect(parseStateOutput(stdout)).toBeUndefined();
  });

  it('says nothing when the server answers the state but refuses the status (a replica is never read as replicating from nobody)', () => {
    const { stdout } = probeWith(
      [
        'printf "infra_tag\\tinfra_key\\tx\\nDB\\tstate\\t1\\tu1:1-40\\tu1:1-40\\n"',
        'echo "ERROR 1227 (42000) at line 2: Access denied; you need the REPLICATION CLIENT privilege" >&2',
        'exit 1',
      ],
      'mysql',
    );
    expect(stdout).toBe('');
    expect(parseStateOutput(stdout)).toBeUndefined();
  });
});

describe('the switchover, run on the hosts in order', () => {
  /** A runner answering each script by what it does, recording host and step. */
  function fakeHosts(answers: { newPrimaryState: string; demote?: ScriptResult; catchUp?: ScriptResult }) {
    const calls: string[] = [];
    const run = async (host: { name: string }, script: string): Promise<ScriptResult> => {
      const what =
        script.includes('SHOW SLAVE STATUS') && !script.includes('MASTER_GTID_WAIT')
          ? 'read'
          : script.includes('KILL CONNECTION')
            ? 'demote'
            : script.includes('MASTER_GTID_WAIT')
              ? 'catch up'
              : script.includes('RESET SLAVE ALL')
                ? 'promote'
                : script.includes('read_only = 0')
                  ? 'undo demote'
                  : 'other';
      calls.push(`${host.name}: ${what}`);
      if (what === 'read') return { code: 0, stdout: answers.newPrimaryState, stderr: '' };
      if (what === 'demote') return answers.demote ?? { code: 0, stdout: '@@position\t0-1-42\n', stderr: '' };
      if (what === 'catch up') return answers.catchUp ?? { code: 0, stdout: '', stderr: '' };
      return { code: 0, stdout: '', stderr: '' };
    };
    return { calls, run };
  }
  const replicating = 'DB\tstate\t1\t0-1-40\t0-1-40\nDB\tMaster_Host: 10.0.0.41\n';

  it('makes the old primary read-only and drained, waits for its position, then promotes the new one', async () => {
    const { calls, run } = fakeHosts({ newPrimaryState: replicating });
    const steps: string[] = [];
    await switchPrimary(resource('db2', 'db2'), run, (step) => steps.push(step));
    expect(calls).toEqual(['db2: read', 'db1: demote', 'db2: catch up', 'db2: promote']);
    expect(steps[2]).toBe('db2: apply every transaction of db1 up to 0-1-42');
  });

  it('gives the old primary its writes back and names both positions when the new one does not catch up in time', async () => {
    const { calls, run } = fakeHosts({ newPrimaryState: replicating, catchUp: { code: 2, stdout: 'DB\tstate\t1\t0-1-40\t0-1-40\n', stderr: '' } });
    await expect(switchPrimary(resource('db2', 'db2'), run, () => undefined)).rejects.toThrow(
      "db2 had not applied db1's transactions up to 0-1-42 within 30 s (it reached 0-1-40); db1 takes writes again, nothing was switched",
    );
    expect(calls).toEqual(['db2: read', 'db1: demote', 'db2: catch up', 'db1: undo demote']);
  });

  it('only promotes a read-only primary that replicates from nobody, and does nothing to a writable one', async () => {
    const readOnly = fakeHosts({ newPrimaryState: 'DB\tstate\t1\t0-1-40\t0-1-40\n' });
    await switchPrimary(resource('db2', 'db2'), readOnly.run, () => undefined);
    expect(readOnly.calls).toEqual(['db2: read', 'db2: promote']);
    const done = fakeHosts({ newPrimaryState: 'DB\tstate\t0\t0-1-40\t0-1-40\n' });
    await switchPrimary(resource('db2', 'db2'), done.run, () => undefined);
    expect(done.calls).toEqual(['db2: read']);
  });
});
