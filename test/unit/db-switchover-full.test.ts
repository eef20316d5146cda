import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { promoteScript, undoDemoteScript } from '../../src/db/replication.js';

/**
 * A stand-in `mysql` that refuses the first `refusals` connections with ERROR 1040 (every slot
 * taken), then records the SQL it got on stdin and succeeds.
 */
function fakeMysql(refusals: number, failure = 'ERROR 1040 (HY000): Too many connections'): { dir: string; received: string } {
  const dir = mkdtempSync(join(tmpdir(), 'infra-mysql-'));
  writeFileSync(join(dir, 'tries'), '0');
  writeFileSync(
    join(dir, 'mysql'),
    [
      '#!/bin/bash',
      `n=$(( $(cat ${dir}/tries) + 1 )); echo $n > ${dir}/tries`,
      `if [ $n -le ${refusals} ]; then echo '${failure}' >&2; exit 1; fi`,
      `cat > ${dir}/received`,
      'echo done',
    ].join('\n'),
  );
  chmodSync(join(dir, 'mysql'), 0o755);
  return { dir, received: join(dir, 'received') };
}

describe('the switchover under a server whose connection slots are all taken', () => {
  it('tries its connection again while the server answers 1040, then runs the same SQL', () => {
    const mysql = fakeMysql(3);
    const out = execFileSync('bash', ['-c', promoteScript('mysql')], { env: { PATH: `${mysql.dir}:/usr/bin:/bin` }, encoding: 'utf8' });
    expect(out.trim()).toBe('done');
    expect(readFileSync(join(mysql.dir, 'tries'), 'utf8').trim()).toBe('4');
    expect(readFileSync(mysql.received, 'utf8')).toBe('STOP REPLICA;\nRESET REPLICA ALL;\nSET GLOBAL super_read_only = 0;\nSET GLOBAL read_only = 0;\n');
  });

  it('fails at once, with the server’s words, on any other error', () => {
    const mysql = fakeMysql(1, 'ERROR 1045 (28000): Access denied');
    const result = spawnSync('bash', ['-c', undoDemoteScript()], { env: { PATH: `${mysql.dir}:/usr/bin:/bin` }, encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('ERROR 1045');
    expect(readFileSync(join(mysql.dir, 'tries'), 'utf8').trim()).toBe('1');
  });
});
