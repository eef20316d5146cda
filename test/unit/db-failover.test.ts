import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { DbReplicationFact } from '../../src/core/types.js';
import { decideFailover, rewriteDbTopology, type DbHostState } from '../../src/db/failover.js';

const ref = (name: string) => ({ name, address: `10.0.0.${40 + Number(name.slice(2))}` });
const replica = (name: string, gtidState: string): DbHostState => ({
  host: ref(name),
  db: { readOnly: true, gtidState, gtidPosition: gtidState, source: { host: '10.0.0.41', ioRunning: 'Connecting', sqlRunning: 'Yes', received: gtidState } },
});
const gone = (name: string): DbHostState => ({ host: ref(name), error: 'connect ECONNREFUSED' });

// The inventory: db1 primary, db2 and db3 replicas.
describe('which replica a failover promotes', () => {
  it('promotes the replica holding every transaction the reachable ones hold, and the old primary becomes a replica', () => {
    const decision = decideFailover('mariadb', 'db1', ['db2', 'db3'], [gone('db1'), replica('db2', '0-1-90'), replica('db3', '0-1-100')]);
    expect(decision).toMatchObject({ oldPrimary: 'db1', newPrimary: 'db3', replicas: ['db2', 'db1'] });
    expect(decision.lost).toMatch(/^unknown: db1 could not be read \(connect ECONNREFUSED\)\. Whatever it committed after 0-1-100 reached no replica/);
  });

  it('takes --to when no reachable replica holds transactions it lacks, and refuses it when one does', () => {
    expect(decideFailover('mariadb', 'db1', ['db2', 'db3'], [gone('db1'), replica('db2', '0-1-100'), replica('db3', '0-1-100')], 'db2').newPrimary).toBe('db2');
    expect(() => decideFailover('mariadb', 'db1', ['db2', 'db3'], [gone('db1'), replica('db2', '0-1-90'), replica('db3', '0-1-100')], 'db2')).toThrow(
      '--to db2: db3 holds transactions db2 lacks (0-1-91..0-1-100): promoting db2 would lose them',
    );
    expect(() => decideFailover('mariadb', 'db1', ['db2'], [replica('db2', '')], 'db7')).toThrow(/--to db7: not one of db.replicas/);
  });

  it('refuses while the primary still takes writes: that is a switchover', () => {
    const primary: DbHostState = { host: ref('db1'), db: { readOnly: false, gtidState: '0-1-5', gtidPosition: '0-1-5' } satisfies DbReplicationFact };
    expect(() => decideFailover('mariadb', 'db1', ['db2'], [primary, replica('db2', '0-1-5')])).toThrow(/the primary db1 answers and takes writes/);
  });

  it('names what the old primary holds that the promoted replica never received, when the old primary can be read', () => {
    const readOnlyPrimary: DbHostState = { host: ref('db1'), db: { readOnly: true, gtidState: '0-1-103', gtidPosition: '0-1-103' } };
    expect(decideFailover('mariadb', 'db1', ['db2'], [readOnlyPrimary, replica('db2', '0-1-100')]).lost).toBe(
      'db1 holds transactions db2 never received, lost to the site: 0-1-101..0-1-103',
    );
  });

  it('refuses when no replica can be read, or when none holds all the others hold', () => {
    expect(() => decideFailover('mariadb', 'db1', ['db2'], [gone('db1'), gone('db2')])).toThrow(/no replica could be read/);
    expect(() => decideFailover('mariadb', 'db1', ['db2', 'db3'], [gone('db1'), replica('db2', '0-1-90,1-2-1'), replica('db3', '0-1-100')])).toThrow(
      /choose one with --to/,
    );
  });
});

describe('the inventory rewritten in place', () => {
  const text = [
    '# The shop, production.',
    'db:',
    '  primary: db1 # the writer',
    '  # replicas take the reads',
    '  replicas: [db2, db3]',
    '  name: shop',
    'hosts:',
    '  db1: {address: 10.0.0.41, roles: [db]}',
    '',
  ].join('\n');

  it('changes db.primary and db.replicas only, keeping comments, order and the flow list', () => {
    expect(rewriteDbTopology(text, 'db3', ['db2', 'db1'])).toBe(text.replace('primary: db1', 'primary: db3').replace('[db2, db3]', '[db2, db1]'));
  });

  it('keeps a block list a block list', () => {
    const block = 'db:\n  primary: db1\n  replicas:\n    - db2\n  name: shop\n';
    const rewritten = rewriteDbTopology(block, 'db2', ['db1']);
    expect(rewritten).toBe('db:\n  primary: db2\n  replicas:\n    - db1\n  name: shop\n');
    expect(parse(rewritten)).toEqual({ db: { primary: 'db2', replicas: ['db1'], name: 'shop' } });
  });
});
