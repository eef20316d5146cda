import { describe, expect, it } from 'vitest';
import { didYouMean, selectHosts, selectReplacedHosts } from '../../src/engine/select.js';
import { testInventory } from './roles-fixture.js';

/** The role fixture (lb1 lb2 web1 web2 app1 app2 db1 db2 db3) with web1, app1 and db1 in group dc1, the others in dc2. */
function inventory() {
  const base = testInventory();
  const hosts = base.hosts.map((host) => ({ ...host, groups: [/1$/.test(host.name) ? 'dc1' : 'dc2'] }));
  return testInventory({ hosts, groups: { dc1: ['lb1', 'web1', 'app1', 'db1'], dc2: ['lb2', 'web2', 'app2', 'db2', 'db3'] } });
}

const names = (limit: string[] | undefined) => selectHosts(inventory(), limit).map((host) => host.name);

describe('--limit, read as Ansible reads a pattern', () => {
  it('no --limit: every host', () => {
    expect(names(undefined)).toHaveLength(9);
  });

  it('host names, roles and groups, comma separated, in inventory order', () => {
    expect(names(['db,web1'])).toEqual(['web1', 'db1', 'db2', 'db3']);
    expect(names(['dc1'])).toEqual(['lb1', 'web1', 'app1', 'db1']);
  });

  it('a repeated --limit adds up like one comma list', () => {
    expect(names(['web1', 'app2'])).toEqual(['web1', 'app2']);
  });

  it('globs over host, role and group names', () => {
    expect(names(['web*'])).toEqual(['web1', 'web2']);
    expect(names(['db?'])).toEqual(['db1', 'db2', 'db3']);
    expect(names(['dc*'])).toHaveLength(9);
  });

  it('exclusions, alone (from every host) or after a selection', () => {
    expect(names(['web:!web1'])).toEqual(['web2']);
    expect(names(['!db*,!lb'])).toEqual(['web1', 'web2', 'app1', 'app2']);
  });

  it('intersections: web:&dc1 is the web hosts of dc1', () => {
    expect(names(['web:&dc1'])).toEqual(['web1']);
    expect(names(['web,app:&dc2:!app2'])).toEqual(['web2']);
  });

  it('an unknown name is an error that names what it may have meant', () => {
    expect(() => names(['wbe'])).toThrow(/--limit wbe: no host, group or role of that name; did you mean web\?.*nothing was changed/);
    expect(() => names(['web1,dbb2'])).toThrow(/did you mean db2\?/);
    expect(() => names(['web:!wbe1'])).toThrow(/--limit wbe1: .*did you mean web1\?/);
    expect(() => names(['zz*'])).toThrow(/--limit zz\*: no host, group or role matches it/);
  });

  it('a pattern whose terms leave no host is an error', () => {
    expect(() => names(['web:&db'])).toThrow(/selects no host/);
    expect(() => names([','])).toThrow(/no host, group or role named/);
  });

  it('did-you-mean: one edit (a swap counts as one) for short names, two for longer ones', () => {
    expect(didYouMean('wbe', ['web', 'db', 'lb'])).toEqual(['web']);
    expect(didYouMean('frontned1', ['frontend1', 'backend1'])).toEqual(['frontend1']);
    expect(didYouMean('xyz', ['web', 'db'])).toEqual([]);
  });

  it('--replace-host takes one value too, and an unknown name gets the same did-you-mean', () => {
    const all = inventory();
    expect([...selectReplacedHosts(all, all.hosts, ['web2,app1'])]).toEqual(['web2', 'app1']);
    expect(() => selectReplacedHosts(all, all.hosts, ['wbe2'])).toThrow(
      /--replace-host wbe2: no host of that name in the inventory \(hosts: .*\); did you mean web2\?; nothing was changed/,
    );
  });
});
