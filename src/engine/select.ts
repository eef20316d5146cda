import { UserError } from '../core/errors.js';
import { ROLES, type Host, type Inventory } from '../inventory/model.js';

/** Edit distance between two names, a swap of neighbours counting as one edit (Damerau), for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      row[j] = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The known names close to an unknown one: one edit away (two for longer names), or a name it starts. */
export function didYouMean(word: string, known: readonly string[]): string[] {
  const allowed = word.length <= 4 ? 1 : 2;
  return [...new Set(known)]
    .map((name) => ({ name, score: name.startsWith(word) ? 0 : distance(word, name) }))
    .filter((entry) => entry.score <= allowed)
    .sort((a, b) => a.score - b.score || a.name.localeCompare(b.name))
    .slice(0, 3)
    .map((entry) => entry.name);
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/** The hosts one word of a pattern names: a host, a role, a group, or a glob over all three. */
function hostsNamed(inventory: Inventory, word: string): Host[] {
  const matches = /[*?]/.test(word) ? (name: string) => globToRegExp(word).test(name) : (name: string) => name === word;
  return inventory.hosts.filter((host) => matches(host.name) || host.roles.some(matches) || host.groups.some(matches));
}

/**
 * The hosts a `--limit` pattern selects, as Ansible reads one: terms separated by "," or ":";
 * a plain term (host, role, group, or a glob such as `web*`) adds its hosts, `&term` keeps only
 * the hosts also in it, `!term` removes its hosts; with no plain term, the start is every host.
 * `web,db:!db2`, `web:&dc1`, `!web1`. Values of a repeated --limit add up like one comma list.
 * All hosts without it. A term that names nothing is an error with the names it may have meant.
 */
export function selectHosts(inventory: Inventory, limit: readonly string[] | undefined): Host[] {
  if (!limit || limit.length === 0) return inventory.hosts;
  const terms = limit
    .flatMap((value) => value.split(/[,:]/))
    .map((term) => term.trim())
    .filter(Boolean);
  if (terms.length === 0) throw new UserError(`--limit ${limit.join(',')}: no host, group or role named; e.g. --limit web1,db or --limit 'web*:!web2'`);
  const known = [...inventory.hosts.map((host) => host.name), ...Object.keys(inventory.groups), ...ROLES];
  const named = (term: string): Set<string> => {
    const hosts = hostsNamed(inventory, term);
    if (hosts.length === 0) {
      const close = /[*?]/.test(term) ? [] : didYouMean(term, known);
      const hint = close.length > 0 ? `did you mean ${close.join(' or ')}? ` : '';
      throw new UserError(
        `--limit ${term}: no host, group or role ${/[*?]/.test(term) ? 'matches it' : 'of that name'}; ${hint}` +
          `(hosts: ${inventory.hosts.map((h) => h.name).join(', ')}; roles: ${ROLES.join(', ')}${Object.keys(inventory.groups).length ? `; groups: ${Object.keys(inventory.groups).join(', ')}` : ''}); nothing was changed`,
      );
    }
    return new Set(hosts.map((host) => host.name));
  };
  const plain = terms.filter((term) => !term.startsWith('!') && !term.startsWith('&'));
  let selected = new Set(plain.length > 0 ? plain.flatMap((term) => [...named(term)]) : inventory.hosts.map((host) => host.name));
  for (const term of terms.filter((t) => t.startsWith('&'))) {
    const also = named(term.slice(1));
    selected = new Set([...selected].filter((name) => also.has(name)));
  }
  for (const term of terms.filter((t) => t.startsWith('!'))) for (const name of named(term.slice(1))) selected.delete(name);
  const hosts = inventory.hosts.filter((host) => selected.has(host.name));
  if (hosts.length === 0)
    throw new UserError(`--limit ${limit.join(',')}: selects no host (each term names hosts, but together they leave none); nothing was changed`);
  return hosts;
}

/**
 * The hosts named by `--replace-host` (names only, comma lists allowed), each checked: it is in the
 * inventory and among the hosts this run works on, since a host taken back is provisioned from bare
 * in the same run.
 */
export function selectReplacedHosts(inventory: Inventory, selected: readonly Host[], names: readonly string[] | undefined): Set<string> {
  const words = (names ?? []).flatMap((word) => word.split(',')).filter(Boolean);
  for (const word of words) {
    if (!inventory.hosts.some((host) => host.name === word)) {
      const close = didYouMean(
        word,
        inventory.hosts.map((h) => h.name),
      );
      const hint = close.length > 0 ? `; did you mean ${close.join(' or ')}?` : '';
      throw new UserError(
        `--replace-host ${word}: no host of that name in the inventory (hosts: ${inventory.hosts.map((h) => h.name).join(', ')})${hint}; nothing was changed`,
      );
    }
    if (!selected.some((host) => host.name === word)) {
      throw new UserError(
        `--replace-host ${word}: ${word} is outside --limit; a host taken back is provisioned in the same run, so add it to --limit; nothing was changed`,
      );
    }
  }
  return new Set(words);
}
