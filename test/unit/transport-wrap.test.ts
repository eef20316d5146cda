import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { wrapScript } from '../../src/transport/ssh.js';

/*
 * What bash on a host does with a script as HostConnection.run sends it (on stdin to `bash -s`),
 * run by a local bash. Every lab test goes through the same wrapper over SSH.
 */
function runWrapped(script: string, stdinAfter = ''): { code: number | null; stdout: string } {
  const result = spawnSync('bash', ['-s'], { input: wrapScript(script) + stdinAfter, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout };
}

describe('a script run on a host', () => {
  it('gives back its stdout byte for byte, trailing newlines or none', () => {
    expect(runWrapped('printf "a\\nb\\n\\n"').stdout).toBe('a\nb\n\n');
    expect(runWrapped('printf "no newline"').stdout).toBe('no newline');
    expect(runWrapped('printf "ends with a dot."').stdout).toBe('ends with a dot.');
    expect(runWrapped('true').stdout).toBe('');
  });

  it('exits with its status, also when it calls exit itself, with the output written before', () => {
    expect(runWrapped('echo one; exit 3; echo two')).toEqual({ code: 3, stdout: 'one\n' });
    expect(runWrapped('echo done; exit 0')).toEqual({ code: 0, stdout: 'done\n' });
    expect(runWrapped('echo last; false')).toEqual({ code: 1, stdout: 'last\n' });
  });

  it('cannot read what follows it on stdin', () => {
    expect(runWrapped('read -r line; echo "read: $line"', 'echo swallowed\n')).toEqual({ code: 0, stdout: 'read: \n' });
  });
});
