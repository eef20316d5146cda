import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildChangeScript, scriptFailure } from '../../src/apply/scripts.js';
import type { Change, Resource } from '../../src/core/types.js';

/*
 * The change script's writes, run by a local bash as root against a scratch folder, with links
 * planted where a local user would plant them. The scratch folder is under /run (root's, 0755):
 * under /tmp, which anyone can write to, every write is refused (the last test says so).
 */
const NOBODY = 65534;
const scratchFolders: string[] = [];
afterAll(() => scratchFolders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function scratch(): string {
  if (process.getuid?.() !== 0) throw new Error("these tests run the write script as root (it chowns, and trusts only root's folders): run them as root");
  const dir = mkdtempSync('/run/infra-writes-');
  scratchFolders.push(dir);
  return dir;
}

function changesOf(resources: Resource[]): Change[] {
  return resources.map((resource) => ({ phase: 'db', resource, action: 'update', reason: '' }));
}

function run(script: string, path = process.env.PATH ?? '/usr/bin:/bin'): { code: number; stdout: string; stderr: string } {
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { PATH: path } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** A root-owned file standing for /etc/shadow: what a planted link points at. */
function rootTarget(dir: string): string {
  const target = join(dir, 'shadow');
  writeFileSync(target, 'root secrets\n', { mode: 0o640 });
  return target;
}

function described(path: string): string {
  const stat = lstatSync(path);
  return `${(stat.mode & 0o7777).toString(8)} ${stat.uid}:${stat.gid}`;
}

describe('a file written in a folder only root can change', () => {
  it('is written through links planted at its staging and backup names and at its own path, leaving their target untouched', () => {
    const dir = scratch();
    const target = rootTarget(dir);
    const etc = join(dir, 'etc');
    mkdirSync(etc);
    // What the old staging (`<path>.infra-new`, chown, chmod) and backup (`cp -a` to `<path>.infra-bak`) followed.
    symlinkSync(target, join(etc, 'exporter.cnf.infra-new'));
    symlinkSync(target, join(etc, 'exporter.cnf.infra-bak'));
    symlinkSync(target, join(etc, 'exporter.cnf'));
    const file = { kind: 'file' as const, path: join(etc, 'exporter.cnf'), content: 'password = s3cret\n', mode: '0640', owner: 'root', group: String(NOBODY) };

    const result = run(buildChangeScript(changesOf([file]), [], []));

    expect(scriptFailure(result)).toBeUndefined();
    expect(readFileSync(target, 'utf8')).toBe('root secrets\n');
    expect(described(target)).toBe('640 0:0');
    expect(lstatSync(file.path).isFile()).toBe(true);
    expect(readFileSync(file.path, 'utf8')).toBe(file.content);
    expect(described(file.path)).toBe(`640 0:${NOBODY}`);
    // Only the planted links that were not at the path remain: no staging folder is left.
    expect(readdirSync(etc).sort()).toEqual(['exporter.cnf', 'exporter.cnf.infra-bak', 'exporter.cnf.infra-new']);
  });

  it('holds its final owner and mode, in a folder only root can enter, from its first byte', () => {
    const dir = scratch();
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const seen = join(dir, 'seen');
    // base64 writes the content: what it writes into, as it starts, is what another user could have opened.
    writeFileSync(join(bin, 'base64'), `#!/bin/bash\nf=$(readlink /proc/$$/fd/1)\nstat -c '%a %u:%g' "$f" "\${f%/*}" >> ${seen}\nexec /usr/bin/base64 "$@"\n`, {
      mode: 0o755,
    });
    const file = {
      kind: 'file' as const,
      path: join(dir, 'app.env'),
      content: 'DB_PASSWORD="pa\'ss"\n',
      mode: '0600',
      owner: String(NOBODY),
      group: String(NOBODY),
      secrets: [],
    };

    const result = run(buildChangeScript(changesOf([file]), [], []), `${bin}:/usr/bin:/bin`);

    expect(scriptFailure(result)).toBeUndefined();
    expect(readFileSync(seen, 'utf8').trim().split('\n')).toEqual([`600 ${NOBODY}:${NOBODY}`, '700 0:0']);
    expect(described(file.path)).toBe(`600 ${NOBODY}:${NOBODY}`);
  });

  it('is put back as it was, with the files beside it, when the phase fails validation', () => {
    const dir = scratch();
    const kept = join(dir, 'site.conf');
    writeFileSync(kept, 'old site\n', { mode: 0o644 });
    const files: Resource[] = [
      { kind: 'file', path: kept, content: 'new site\n', mode: '0600', owner: 'root', group: 'root' },
      { kind: 'file', path: join(dir, 'added.conf'), content: 'added\n', mode: '0644', owner: 'root', group: 'root' },
    ];

    const result = run(buildChangeScript(changesOf(files), [], [{ name: 'config', script: 'echo "bad config"; false' }]));

    expect(result.code).toBe(3);
    expect(scriptFailure(result)).toBe('validation failed, nothing activated: config\nbad config');
    expect(readFileSync(kept, 'utf8')).toBe('old site\n');
    expect(described(kept)).toBe('644 0:0');
    expect(readdirSync(dir)).toEqual(['site.conf']);
  });

  it('is not put over a folder of the same name', () => {
    const dir = scratch();
    mkdirSync(join(dir, 'app.env'));

    const result = run(
      buildChangeScript(changesOf([{ kind: 'file', path: join(dir, 'app.env'), content: 'x\n', mode: '0600', owner: 'root', group: 'root' }]), [], []),
    );

    expect(scriptFailure(result)).toMatch(/^step failed: activate .*app\.env\n/);
    expect(lstatSync(join(dir, 'app.env')).isDirectory()).toBe(true);
    expect(readdirSync(dir)).toEqual(['app.env']);
  });
});

describe('a write in a folder another user can change', () => {
  it('is refused naming the path and the folder, and writes nothing, even through a planted link', () => {
    const dir = scratch();
    const target = rootTarget(dir);
    // The mysqld exporter's home as Debian's package makes it: the prometheus user's.
    const home = join(dir, 'prometheus');
    mkdirSync(home, { mode: 0o755 });
    chownSync(home, NOBODY, NOBODY);
    symlinkSync(target, join(home, '.my.cnf.infra-new'));
    const path = join(home, '.my.cnf');

    const result = run(
      buildChangeScript(changesOf([{ kind: 'file', path, content: 'password = x\n', mode: '0600', owner: String(NOBODY), group: String(NOBODY) }]), [], []),
    );

    expect(result.code).toBe(1);
    expect(scriptFailure(result)).toBe(
      `step failed: write ${path}\nrefusing to write ${path}: ${home} (owner nobody, mode 755) can be changed by a user other than root, who could plant a link there for root to follow; make it owned by root and writable by root only`,
    );
    expect(readFileSync(target, 'utf8')).toBe('root secrets\n');
    expect(described(target)).toBe('640 0:0');
    expect(readdirSync(home)).toEqual(['.my.cnf.infra-new']);
  });

  it("is refused when a folder above it, or the folder a link leads to, is writable by a group other than root's", () => {
    const dir = scratch();
    const shared = join(dir, 'shared');
    mkdirSync(join(shared, 'conf'), { recursive: true });
    chownSync(shared, 0, NOBODY);
    chmodSync(shared, 0o775);
    symlinkSync(join(shared, 'conf'), join(dir, 'conf'));

    const result = run(
      buildChangeScript(changesOf([{ kind: 'file', path: join(dir, 'conf', 'a.conf'), content: 'a\n', mode: '0644', owner: 'root', group: 'root' }]), [], []),
    );

    expect(scriptFailure(result)).toContain(`: ${shared} (owner root, mode 775) can be changed by a user other than root`);
    expect(readdirSync(join(shared, 'conf'))).toEqual([]);
  });

  it('is refused under a world-writable folder such as /tmp, and its missing folders are not created', () => {
    const path = `/tmp/infra-writes-${process.pid}/sub/x.conf`;

    const result = run(buildChangeScript(changesOf([{ kind: 'file', path, content: 'x\n', mode: '0644', owner: 'root', group: 'root' }]), [], []));

    expect(scriptFailure(result)).toContain(`refusing to write ${path}: /tmp (owner root, mode 1777) can be changed by a user other than root`);
    expect(existsSync(`/tmp/infra-writes-${process.pid}`)).toBe(false);
  });
});

describe('links, folders and removals', () => {
  it('a managed folder where a link now is is refused, and what the link points at keeps its mode and owner', () => {
    const dir = scratch();
    const target = rootTarget(dir);
    symlinkSync(target, join(dir, 'app'));

    const result = run(
      buildChangeScript(changesOf([{ kind: 'directory', path: join(dir, 'app'), mode: '0755', owner: String(NOBODY), group: String(NOBODY) }]), [], []),
    );

    expect(scriptFailure(result)).toBe(`step failed: directory ${dir}/app\n${dir}/app is a link; infra keeps a folder there`);
    expect(described(target)).toBe('640 0:0');
  });

  it("an absent path that is a link to a folder loses the link, not the folder's content", () => {
    const dir = scratch();
    mkdirSync(join(dir, 'keep'));
    writeFileSync(join(dir, 'keep', 'data'), 'data\n');
    symlinkSync(join(dir, 'keep'), join(dir, 'default'));

    const result = run(buildChangeScript(changesOf([{ kind: 'absent', path: join(dir, 'default') }]), [], []));

    expect(scriptFailure(result)).toBeUndefined();
    expect(existsSync(join(dir, 'default'))).toBe(false);
    expect(readFileSync(join(dir, 'keep', 'data'), 'utf8')).toBe('data\n');
  });

  it("an owned folder loses a planted link, moved as a link, and keeps what infra writes there; the link's target stays", () => {
    const dir = scratch();
    const target = rootTarget(dir);
    const folder = join(dir, 'conf.d');
    mkdirSync(folder);
    symlinkSync(target, join(folder, 'evil.conf'));
    const changes: Change[] = [
      ...changesOf([{ kind: 'file', path: join(folder, 'infra.conf'), content: 'ours\n', mode: '0644', owner: 'root', group: 'root' }]),
      { phase: 'web', resource: { kind: 'owned-folder', path: folder, keep: ['infra.conf'] }, action: 'delete', reason: '' },
    ];

    const result = run(buildChangeScript(changes, [], []).replaceAll('/var/lib/infra/removed', join(dir, 'removed')));

    expect(scriptFailure(result)).toBeUndefined();
    expect(readdirSync(folder)).toEqual(['infra.conf']);
    const [runFolder] = readdirSync(join(dir, 'removed'));
    const moved = join(dir, 'removed', runFolder as string, `${folder}/evil.conf`.replaceAll('/', '%'));
    expect(readlinkSync(moved)).toBe(target);
    expect(readFileSync(target, 'utf8')).toBe('root secrets\n');
  });

  it('a symlink replaces whatever link was at its path, through no planted name', () => {
    const dir = scratch();
    const target = rootTarget(dir);
    mkdirSync(join(dir, 'releases', 'b'), { recursive: true });
    symlinkSync(target, join(dir, 'current.infra-new'));
    symlinkSync(join(dir, 'releases'), join(dir, 'current'));

    const result = run(buildChangeScript(changesOf([{ kind: 'symlink', path: join(dir, 'current'), target: join(dir, 'releases', 'b') }]), [], []));

    expect(scriptFailure(result)).toBeUndefined();
    expect(readlinkSync(join(dir, 'current'))).toBe(join(dir, 'releases', 'b'));
    expect(readdirSync(join(dir, 'releases'))).toEqual(['b']);
    expect(statSync(target).size).toBe('root secrets\n'.length);
  });
});
