import { SQL_GUARD_TAG } from '../core/mysql-client.js';
import type { Facts, FileFact, ServiceFact, UfwRule } from '../core/types.js';
import { DB_FACT_TAG, parseDbFact } from '../db/replication.js';

/** What a host that holds nothing infra reads has: the start of every parse. */
export function emptyFacts(controllerAddress: string): Facts {
  return {
    os: { id: '', versionId: '', codename: '' },
    controllerAddress,
    files: {},
    packages: {},
    services: {},
    firewall: { installed: false, enabled: false, defaultIncoming: '', rules: [] },
    guards: {},
    queries: {},
    pendingHandlers: [],
    folders: {},
    health: {},
  };
}

/**
 * A ufw rule as user.rules records it after "### tuple ###":
 * `allow tcp 22 0.0.0.0/0 any 10.77.0.1 in comment=696e667261` (the comment is hex).
 */
export function parseUfwTuple(tuple: string): UfwRule | undefined {
  const words = tuple.trim().split(/\s+/);
  const [action, proto, port, to, fromPort, from, direction] = words;
  if (!action || !proto || !port || !to || !fromPort || !from || !direction || !/^in(_|$)/.test(direction)) return undefined;
  const commentWord = words.find((word) => word.startsWith('comment='));
  const comment = commentWord ? Buffer.from(commentWord.slice('comment='.length), 'hex').toString('utf8') : '';
  const anyAddress = (address: string) => (address === '0.0.0.0/0' ? 'any' : address);
  return { action, proto, port, from: anyAddress(from), comment, to: anyAddress(to), fromPort, iface: direction.slice('in_'.length) };
}

const FILE_TYPES: Record<string, string> = {
  'regular file': 'file',
  'regular empty file': 'file',
  directory: 'directory',
  'symbolic link': 'symlink',
};

/** A `stat --printf '%n\t%F\t%a\t%U\t%G\t%N'` line (QUOTING_STYLE=literal): `%N` is `path -> target` for a link. */
function parseStatLine(fields: string[]): FileFact {
  const [path = '', typeName = '', mode, owner, group, described = ''] = fields;
  const fact: FileFact = { exists: true, type: FILE_TYPES[typeName] ?? 'other', mode, owner, group };
  const arrow = `${path} -> `;
  if (fact.type === 'symlink' && described.startsWith(arrow)) fact.target = described.slice(arrow.length);
  return fact;
}

/** Turns the probe's output into Facts. Unknown lines are ignored, so an older host never breaks it. */
export function parseProbeOutput(output: string, controllerAddress: string): Facts {
  const facts = emptyFacts(controllerAddress);
  let service: Partial<ServiceFact> & { id?: string } = {};
  const dbLines: string[][] = [];
  const flushService = (): void => {
    if (service.id) {
      const name = service.id.replace(/\.service$/, '');
      facts.services[name] = { load: service.load ?? '', active: service.active ?? '', enabled: service.enabled ?? '' };
    }
    service = {};
  };
  for (const line of output.split('\n')) {
    const [tag, ...fields] = line.split('\t');
    switch (tag) {
      case 'OS':
        facts.os = { id: fields[0] ?? '', versionId: fields[1] ?? '', codename: fields[2] ?? '' };
        break;
      case 'F':
        if (fields[0]) facts.files[fields[0]] = parseStatLine(fields);
        break;
      case 'D': {
        const fact = fields[0] ? facts.files[fields[0]] : undefined;
        if (fact) fact.sha256 = fields[1];
        break;
      }
      case 'B': {
        const fact = fields[0] ? facts.files[fields[0]] : undefined;
        if (fact) fact.content = Buffer.from(fields[1] ?? '', 'base64').toString('utf8');
        break;
      }
      case 'P':
        if (fields[0]) facts.packages[fields[0]] = fields[1]?.startsWith('ii') ? (fields[2] ?? '') : null;
        break;
      case 'S': {
        const [key, value = ''] = (fields[0] ?? '').split(/=(.*)/s);
        if (key === 'Id') {
          flushService();
          service.id = value;
        } else if (key === 'LoadState') service.load = value;
        else if (key === 'ActiveState') service.active = value;
        else if (key === 'UnitFileState') service.enabled = value;
        break;
      }
      case 'W':
        if (fields[0] === 'installed') facts.firewall.installed = true;
        if (fields[0] === 'enabled') facts.firewall.enabled = true;
        if (fields[0] === 'input') facts.firewall.defaultIncoming = fields[1] ?? '';
        break;
      case 'R': {
        const rule = parseUfwTuple(fields.join('\t'));
        if (rule) facts.firewall.rules.push(rule);
        break;
      }
      case 'G':
        if (fields[0]) facts.guards[fields[0]] = Number(fields[1]);
        break;
      case SQL_GUARD_TAG:
        if (fields[0]) facts.queries[fields[0]] = fields[1] ?? '';
        break;
      case 'C':
        if (fields[0]) facts.health[fields[0]] = Buffer.from(fields[1] ?? '', 'base64').toString('utf8');
        break;
      case 'H':
        if (fields[0] && !facts.pendingHandlers.includes(fields[0])) facts.pendingHandlers.push(fields[0]);
        break;
      case DB_FACT_TAG:
        dbLines.push(fields);
        break;
      case 'L':
        // One line per owned folder: its path, then its entry names (a name never holds a tab).
        if (fields[0]) facts.folders[fields[0]] = fields.slice(1).filter(Boolean);
        break;
    }
  }
  flushService();
  const db = parseDbFact(dbLines);
  if (db) facts.db = db;
  return facts;
}
