import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { formatKeyPath, YamlSource, type KeyPath } from '../inventory/positions.js';
import type { Inventory, InventoryIssue, SecretSource } from '../inventory/model.js';

interface NamedPath {
  path: string;
  /** Where the inventory names it; a default not written there points at its parent mapping. */
  key: KeyPath;
  kind: 'file' | 'folder';
  what: string;
}

/** `db.extra_accounts[0].password` → ['db', 'extra_accounts', 0, 'password']. */
function keyPathOf(key: string): KeyPath {
  return key.split('.').flatMap((part) =>
    part
      .split(/\[(\d+)\]/)
      .filter(Boolean)
      .map((piece) => (/^\d+$/.test(piece) ? Number(piece) : piece)),
  );
}

function secretFile(source: SecretSource | undefined, fallbackKey: string): NamedPath[] {
  if (source?.kind !== 'file') return [];
  return [{ path: source.path, key: keyPathOf(source.key ?? fallbackKey), kind: 'file', what: 'secret file' }];
}

/**
 * The local files and folders an inventory names: the app's folder, the templates folder, TLS
 * files, each host's SSH key, and secrets read from files. known_hosts is left out: infra adds to
 * it (--accept-new-host-keys), so it may not exist before the first run.
 */
function namedPaths(inventory: Inventory, text: string): NamedPath[] {
  const source = new YamlSource(text);
  const doc = source.toJS();
  const written = (path: KeyPath): boolean => {
    let node: unknown = doc;
    for (const key of path) {
      if (typeof node !== 'object' || node === null || !(key in node)) return false;
      node = (node as Record<string | number, unknown>)[key];
    }
    return true;
  };
  const paths: NamedPath[] = [{ path: inventory.app.source, key: ['app', 'source'], kind: 'folder', what: "the app's folder" }];
  if (inventory.templatesDir) paths.push({ path: inventory.templatesDir, key: ['templates_dir'], kind: 'folder', what: 'templates folder' });
  if (inventory.tls.kind === 'files') {
    paths.push({ path: inventory.tls.certFile, key: ['tls', 'cert_file'], kind: 'file', what: 'TLS certificate' });
    paths.push({ path: inventory.tls.keyFile, key: ['tls', 'key_file'], kind: 'file', what: 'TLS private key' });
    if (inventory.tls.chainFile) paths.push({ path: inventory.tls.chainFile, key: ['tls', 'chain_file'], kind: 'file', what: 'TLS chain' });
  }
  for (const host of inventory.hosts) {
    const own: KeyPath = ['hosts', host.name, 'ssh', 'identity_file'];
    const ownKey = written(own);
    if (host.ssh.identityFile !== undefined) {
      paths.push({
        path: host.ssh.identityFile,
        key: ownKey ? own : ['ssh', 'identity_file'],
        kind: 'file',
        what: ownKey ? `SSH private key of ${host.name}` : 'SSH private key',
      });
    }
    if (host.ssh.configFileNamed) paths.push({ path: host.ssh.configFile, key: ['ssh', 'config_file'], kind: 'file', what: 'ssh config' });
    const sudo = host.ssh.sudo?.password;
    paths.push(...secretFile(sudo, 'ssh.sudo.password'));
  }
  paths.push(...secretFile(inventory.db.password, 'db.password'), ...secretFile(inventory.db.replicationPassword, 'db.replication_password'));
  // One issue per path and place: hosts sharing the global SSH key are one problem, not eight.
  const seen = new Set<string>();
  return paths.filter((named) => {
    const id = `${named.path}\0${named.key.join('.')}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

async function problemOf(named: NamedPath): Promise<string | undefined> {
  try {
    const info = await stat(named.path);
    if (named.kind === 'folder' && !info.isDirectory()) return `${named.what} ${named.path} is not a folder`;
    if (named.kind === 'file' && !info.isFile()) return `${named.what} ${named.path} is not a file`;
    await access(named.path, named.kind === 'folder' ? constants.R_OK | constants.X_OK : constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${named.what} ${named.path} does not exist; create it or change this path (relative paths start at the inventory's folder)`;
    if (code === 'EACCES') return `${named.what} ${named.path} cannot be read by this user; fix its permissions`;
    return `${named.what} ${named.path}: ${(err as Error).message}`;
  }
}

/** An issue, at the line that names it, for each local file or folder the inventory names that is missing or unreadable. */
export async function namedFileIssues(inventory: Inventory): Promise<InventoryIssue[]> {
  const text = await readFile(inventory.file, 'utf8');
  const source = new YamlSource(text);
  const issues: InventoryIssue[] = [];
  for (const named of namedPaths(inventory, text)) {
    const problem = await problemOf(named);
    if (!problem) continue;
    const position = source.valueAt(named.key);
    issues.push({ file: inventory.file, line: position.line, column: position.column, path: formatKeyPath(named.key), message: problem });
  }
  return issues;
}
