import { describe, expect, it } from 'vitest';
import { scriptFailure } from '../../src/apply/scripts.js';

describe('scriptFailure', () => {
  it('is undefined for a script that reached @@done', () => {
    expect(scriptFailure({ code: 0, stdout: 'x\n@@done\n', stderr: '' })).toBeUndefined();
  });
  it('names the failed step or validator with the output after the marker', () => {
    expect(scriptFailure({ code: 1, stdout: 'a\n@@fail write /etc/x\nno space\n', stderr: '' })).toBe('step failed: write /etc/x\nno space');
    expect(scriptFailure({ code: 3, stdout: '@@invalid nginx config\nemerg: bad\n', stderr: '' })).toBe(
      'validation failed, nothing activated: nginx config\nemerg: bad',
    );
  });
  it('gives the exit code and output of a script that stopped before any marker, or exited 0 without @@done', () => {
    expect(scriptFailure({ code: 127, stdout: '', stderr: 'bash: x: not found\n' })).toBe('exit 127: bash: x: not found');
    expect(scriptFailure({ code: 0, stdout: 'half\n', stderr: '' })).toBe('exit 0: half');
  });
});
