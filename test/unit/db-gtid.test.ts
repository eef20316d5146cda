import { describe, expect, it } from 'vitest';
import { formatGtids, gtidsContain, gtidsMissing, mostAdvanced, parseGtidState } from '../../src/db/gtid.js';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '4f22ab58-71ca-11e1-9e33-c80aa9429563';

describe('GTID states, MariaDB (gtid_binlog_state: the last seq of each domain-server pair)', () => {
  const maria = (text: string) => parseGtidState('mariadb', text);

  it('names what a returning old primary wrote that the new primary never received', () => {
    // db2 was primary (server 2) up to seq 120; db1 received up to 0-2-117, then wrote 0-1-118…
    const returning = maria('0-1-100,0-2-120');
    const newPrimary = maria('0-2-117,0-1-130');
    expect(formatGtids('mariadb', gtidsMissing(returning, newPrimary))).toBe('0-2-118..0-2-120');
    expect(gtidsMissing(newPrimary, returning).size).toBe(1);
  });

  it('finds nothing missing on a replica that is merely behind', () => {
    expect(gtidsContain(maria('0-1-130,0-2-117'), maria('0-1-125'))).toBe(true);
    expect(gtidsContain(maria('0-1-125'), maria('0-1-130'))).toBe(false);
  });

  it('counts a pair the other never saw as missing in full, and an empty state as holding nothing', () => {
    expect(formatGtids('mariadb', gtidsMissing(maria('1-3-1'), maria('0-1-5')))).toBe('1-3-1');
    expect(gtidsMissing(maria(''), maria('0-1-5')).size).toBe(0);
  });

  it('refuses text that is no GTID', () => {
    expect(() => maria('0-1')).toThrow(/not a MariaDB GTID/);
  });
});

describe('GTID sets, MySQL (gtid_executed)', () => {
  const mysql = (text: string) => parseGtidState('mysql', text);

  it('subtracts interval sets per server uuid', () => {
    const missing = gtidsMissing(mysql(`${A}:1-100:105-110,${B}:1-3`), mysql(`${A}:1-98:106,${B}:1-3`));
    expect(formatGtids('mysql', missing)).toBe(`${A}:99-100:105:107-110`);
  });

  it('reads the uuid case-insensitively', () => {
    expect(gtidsContain(mysql(`${A.toUpperCase()}:1-5`), mysql(`${A}:1-5`))).toBe(true);
  });
});

describe('the most advanced replica', () => {
  const of = (name: string, text: string) => ({ name, state: parseGtidState('mariadb', text) });

  it('is the one holding every transaction any other holds', () => {
    expect(mostAdvanced([of('db2', '0-1-90'), of('db3', '0-1-100'), of('db4', '0-1-95')])?.name).toBe('db3');
  });

  it('does not exist when each holds some the other lacks', () => {
    expect(mostAdvanced([of('db2', '0-1-90,1-5-3'), of('db3', '0-1-100')])).toBeUndefined();
  });
});
