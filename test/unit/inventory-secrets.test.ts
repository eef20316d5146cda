import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import type { Inventory } from '../../src/inventory/model.js';
import { parseInventory } from '../../src/inventory/load.js';
import { resolveSecret } from '../../src/inventory/secrets.js';

let dir: string;
let inventory: Inventory;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'infra-secrets-'));
  const result = parseInventory(
    [
      'domain: www.example.com',
      'firewall: {admin_sources: [10.0.0.1/32]}',
      'db: {primary: db1, password: env:INFRA_TEST_DB_PASSWORD, replication_password: file:repl.txt}',
      'app: {source: ./app}',
      'hosts:',
      '  web1: {address: 10.0.0.21, roles: [web, app]}',
      '  db1: {address: 10.0.0.41, roles: [db]}',
    ].join('\n'),
    join(dir, 'inventory.yaml'),
  );
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  inventory = result.inventory;
});

afterEach(async () => {
  delete process.env.INFRA_TEST_DB_PASSWORD;
  await rm(dir, { recursive: true, force: true });
});

describe('resolveSecret', () => {
  it('env: reads the variable, and names it and the inventory key when it is unset', async () => {
    await expect(resolveSecret(inventory.db.password, inventory)).rejects.toThrow(
      new UserError(
        'environment variable INFRA_TEST_DB_PASSWORD is not set (db.password): export INFRA_TEST_DB_PASSWORD=… ' +
          'before running infra, or change the inventory to file:PATH or generate',
      ),
    );
    await expect(resolveSecret(inventory.db.password, inventory)).rejects.toBeInstanceOf(UserError);
    process.env.INFRA_TEST_DB_PASSWORD = 's3cret-from-env';
    const secret = await resolveSecret(inventory.db.password, inventory);
    expect(secret.reveal()).toBe('s3cret-from-env');
  });

  it('file: reads the first line (relative to the inventory), and names the file and key when missing', async () => {
    const file = join(dir, 'repl.txt');
    await expect(resolveSecret(inventory.db.replicationPassword, inventory)).rejects.toThrow(
      `secret file ${file} (db.replication_password) does not exist: create it with the secret on its first line, ` +
        'or change the inventory to env:NAME or generate',
    );
    await writeFile(file, 'first-line-secret\r\nsecond line\n');
    expect((await resolveSecret(inventory.db.replicationPassword, inventory)).reveal()).toBe('first-line-secret');
  });

  it('generate: creates the secret once (0600 in a 0700 state dir with a .gitignore) and reuses it', async () => {
    const source = { kind: 'generate', id: 'db.password' } as const;
    const first = await resolveSecret(source, inventory);
    expect(first.reveal()).toMatch(/^[A-Za-z0-9_-]{24,}$/);

    const file = join(inventory.stateDir, 'secrets', 'db.password');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(inventory.stateDir)).mode & 0o777).toBe(0o700);
    expect(await readFile(join(inventory.stateDir, '.gitignore'), 'utf8')).toBe('*\n');

    const again = await resolveSecret(source, inventory);
    expect(again.reveal()).toBe(first.reveal());
    const other = await resolveSecret({ kind: 'generate', id: 'db.replication_password' }, inventory);
    expect(other.reveal()).not.toBe(first.reveal());
  });

  it('generate: concurrent runs agree on one value', async () => {
    const source = { kind: 'generate', id: 'db.password' } as const;
    const values = await Promise.all(Array.from({ length: 8 }, () => resolveSecret(source, inventory)));
    expect(new Set(values.map((secret) => secret.reveal())).size).toBe(1);
  });

  it('cmd: takes the first line the command prints, run in the inventory folder', async () => {
    await writeFile(join(dir, 'vault.txt'), 'from-the-vault\nsecond line\n');
    const secret = await resolveSecret({ kind: 'cmd', command: 'cat vault.txt', cwd: dir, key: 'db.password' }, inventory);
    expect(secret.reveal()).toBe('from-the-vault');
  });

  it('cmd: names the key and the exit status when the command fails, never what it printed', async () => {
    const failing = resolveSecret({ kind: 'cmd', command: 'echo half-a-secret; exit 3', cwd: dir, key: 'db.password' }, inventory);
    await expect(failing).rejects.toThrow(new UserError('the secret command (db.password) exited 3: run it yourself to see why (cmd: in the inventory)'));
    await expect(resolveSecret({ kind: 'cmd', command: 'true', cwd: dir, key: 'db.password' }, inventory)).rejects.toThrow(/printed nothing/);
  });

  it('cmd: is read from the inventory as a command, and an empty one is refused', () => {
    const parsed = parseInventory(
      [
        'domain: www.example.com',
        'firewall: {admin_sources: [10.0.0.1/32]}',
        'db: {primary: db1, password: "cmd:pass show db/app"}',
        'app: {source: ./app}',
        'hosts:',
        '  db1: {address: 10.0.0.41, roles: [db]}',
      ].join('\n'),
      join(dir, 'inventory.yaml'),
    );
    expect(parsed.ok && parsed.inventory.db.password).toEqual({ kind: 'cmd', command: 'pass show db/app', cwd: dir, key: 'db.password' });
    const empty = parseInventory(
      [
        'domain: www.example.com',
        'firewall: {admin_sources: [10.0.0.1/32]}',
        'db: {primary: db1, password: "cmd:"}',
        'app: {source: ./app}',
        'hosts:',
        '  db1: {address: 10.0.0.41, roles: [db]}',
      ].join('\n'),
      join(dir, 'inventory.yaml'),
    );
    expect(empty.ok ? [] : empty.issues.map((issue) => issue.message)).toContain('cmd: needs a command that prints the secret, e.g. cmd:pass show db/app');
  });

  it('never shows the clear value in JSON, strings or inspect', async () => {
    process.env.INFRA_TEST_DB_PASSWORD = 'do-not-print-me';
    const secret = await resolveSecret(inventory.db.password, inventory);
    const shown = [JSON.stringify({ secret }), String(secret), `${secret}`, inspect({ secret })].join(' ');
    expect(shown).not.toContain('do-not-print-me');
    expect(JSON.stringify({ secret })).toBe('{"secret":"[secret]"}');
  });
});
