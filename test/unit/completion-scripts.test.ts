import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

async function completionScript(shell: string): Promise<string> {
  let stdout = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  try {
    expect(await main(['node', 'infra', 'completion', shell])).toBe(0);
    return stdout;
  } finally {
    out.mockRestore();
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('infra completion bash', () => {
  let script = '';
  let dir = '';
  beforeAll(async () => {
    script = await completionScript('bash');
    dir = mkdtempSync(join(tmpdir(), 'infra-completion-'));
    writeFileSync(join(dir, 'completion.bash'), script);
    // A folder to complete in: inventories, another file, a sub-folder.
    for (const name of ['site.yaml', 'lab.yml', 'notes.txt']) writeFileSync(join(dir, name), '');
    mkdirSync(join(dir, 'envs'));
  });

  /** What bash offers after typing `words` (the last one is the word being completed). */
  function complete(...words: string[]): string[] {
    const line = ['infra', ...words].map((word) => `'${word}'`).join(' ');
    const run = spawnSync(
      'bash',
      ['-c', `source ./completion.bash; COMP_WORDS=(${line}); COMP_CWORD=${words.length}; _infra; printf '%s\\n' "\${COMPREPLY[@]}"`],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    return run.stdout.split('\n').filter(Boolean).sort();
  }

  it('is valid bash (bash -n) and registers for infra', () => {
    const check = spawnSync('bash', ['-n', join(dir, 'completion.bash')], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(script).toContain('complete -F _infra infra');
  });

  it('completes commands, lab subcommands and options, but not hidden commands', () => {
    expect(complete('')).toEqual(expect.arrayContaining(['completion', 'graph', 'init', 'lab', 'provision', 'rollback', 'validate']));
    expect(complete('')).not.toContain('docs');
    expect(complete('lab', '')).toEqual(['down', 'rebuild', 'reset', 'status', 'up']);
    expect(complete('--json', 'lab', 'st')).toEqual(['status']);
    expect(complete('graph', '--')).toEqual(['--help', '--json', '--limit', '--mermaid', '--quiet', '--verbose', '--version', '--yes']);
    expect(complete('lab', 'up', '--w')).toEqual(['--web']);
  });

  it('completes YAML files and folders for inventory arguments, and option values', () => {
    expect(complete('validate', '')).toEqual(['envs', 'lab.yml', 'site.yaml']);
    expect(complete('provision', 's')).toEqual(['site.yaml']);
    expect(complete('rollback', 's')).toEqual(['site.yaml']);
    expect(complete('--limit', 'web', 'graph', '')).toEqual(['envs', 'lab.yml', 'site.yaml']);
    expect(complete('init', '--tls', '')).toEqual(['ca', 'files']);
    expect(complete('completion', '')).toEqual(['bash', 'zsh']);
    expect(complete('graph', 'site.yaml', '--mermaid', 'n')).toEqual(['notes.txt']);
  });
});

describe('infra completion zsh', () => {
  it('is a compdef function for infra, with descriptions', async () => {
    const script = await completionScript('zsh');
    expect(script.startsWith('#compdef infra\n')).toBe(true);
    expect(script).toContain('compdef _infra infra');
    expect(script).toContain("'graph:Show the topology");
    expect(script).toContain("@yaml) _files -g '*.(yaml|yml)' ;;");
    const zsh = spawnSync('zsh', ['-n'], { input: script, encoding: 'utf8' });
    // zsh is not installed everywhere; where it is, the script must parse.
    if (!zsh.error) expect(zsh.status, zsh.stderr).toBe(0);
  });

  it('refuses a shell it has no script for', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['node', 'infra', 'completion', 'fish'])).toBe(1);
      expect(String(err.mock.calls[0]?.[0])).toContain("'fish' is invalid for argument 'shell'. Allowed choices are bash, zsh.");
    } finally {
      err.mockRestore();
    }
  });
});
