import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, type Document, type Node, type Pair } from 'yaml';

/** A key path into the inventory: map keys and list indexes, e.g. ['hosts', 'web1', 'roles', 0]. */
export type KeyPath = readonly (string | number)[];

/** 1-based, as editors show them. */
export interface Position {
  line: number;
  column: number;
}

const START: Position = { line: 1, column: 1 };
const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** Formats a key path the way issues name it: `hosts.web1.roles[0]`, `vars["a.b"]`. */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export interface SyntaxProblem {
  position: Position;
  message: string;
}

export interface DuplicateKey {
  path: KeyPath;
  position: Position;
  firstLine: number;
}

/** The text of a map key as `toJS()` turns it into an object key. */
function keyText(key: unknown): string {
  // toJS() turns a null key (`~:` or `null:`) into "".
  if (isScalar(key)) return key.value === null ? '' : String(key.value);
  return String(key);
}

/**
 * A parsed YAML document that remembers where every node came from, so that a problem found in
 * the plain JS value (by zod or a semantic check) can be reported at the line and column of the
 * node that holds it.
 */
export class YamlSource {
  readonly #document: Document.Parsed;
  readonly #lineCounter: LineCounter;

  constructor(text: string) {
    this.#lineCounter = new LineCounter();
    // uniqueKeys off: duplicates are found by `duplicateKeys()`, which names the full key path
    // (yaml's own error only says "Map keys must be unique"). prettyErrors off: one-line messages.
    this.#document = parseDocument(text, {
      lineCounter: this.#lineCounter,
      uniqueKeys: false,
      prettyErrors: false,
      // A collection used as a key becomes an unknown key issue; no process warning on stderr.
      logLevel: 'error',
    });
  }

  /** YAML syntax errors; when there are any the tree is not trustworthy enough to validate. */
  syntaxProblems(): SyntaxProblem[] {
    return this.#document.errors.map((error) => ({
      position: this.#position(error.pos[0]),
      message: `YAML syntax error: ${error.message}`,
    }));
  }

  /** The document as plain JS values; throws on alias bombs (more than 100 alias expansions). */
  toJS(): unknown {
    return this.#document.toJS({ maxAliasCount: 100 });
  }

  /** Every key written twice in the same map (the later one wins in `toJS()`). */
  duplicateKeys(): DuplicateKey[] {
    const found: DuplicateKey[] = [];
    const visit = (node: unknown, path: KeyPath): void => {
      if (isMap(node)) {
        const firstLines = new Map<string, number>();
        for (const pair of node.items) {
          const key = keyText(pair.key);
          const position = this.#pairKeyPosition(pair);
          const firstLine = firstLines.get(key);
          if (firstLine === undefined) firstLines.set(key, position.line);
          else found.push({ path: [...path, key], position, firstLine });
          visit(pair.value, [...path, key]);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, index) => visit(item, [...path, index]));
      }
    };
    visit(this.#document.contents, []);
    return found;
  }

  /**
   * Where the value at `path` is written. For a key that is absent, the deepest ancestor that
   * exists: the key naming the parent map (`web1:` for a missing `hosts.web1.address`).
   */
  valueAt(path: KeyPath): Position {
    const trail = this.#walk(path);
    const last = trail[trail.length - 1];
    if (!last) return this.#nodePosition(this.#document.contents) ?? START;
    if (trail.length === path.length) {
      return this.#nodePosition(last.node) ?? this.#nodePosition(last.key) ?? START;
    }
    return this.#nodePosition(last.key) ?? this.#nodePosition(last.node) ?? START;
  }

  /** Where the key at the end of `path` is written (for unknown and duplicate keys). */
  keyAt(path: KeyPath): Position {
    const trail = this.#walk(path);
    const last = trail[trail.length - 1];
    if (trail.length === path.length && last?.key) return this.#nodePosition(last.key) ?? this.valueAt(path);
    return this.valueAt(path);
  }

  /** The nodes along `path` as far as it exists; a map step records its key node too. */
  #walk(path: KeyPath): { node: unknown; key?: unknown }[] {
    const trail: { node: unknown; key?: unknown }[] = [];
    let node: unknown = this.#document.contents;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.#document);
      let step: { node: unknown; key?: unknown } | undefined;
      if (isMap(node)) {
        // The last pair wins, as in toJS().
        const pair = [...node.items].reverse().find((item) => keyText(item.key) === String(segment));
        if (pair) step = { node: pair.value, key: pair.key };
      } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        step = { node: node.items[segment] };
      }
      if (!step) break;
      trail.push(step);
      node = step.node;
    }
    return trail;
  }

  #pairKeyPosition(pair: Pair<unknown, unknown>): Position {
    return this.#nodePosition(pair.key) ?? this.#nodePosition(pair.value) ?? START;
  }

  #nodePosition(node: unknown): Position | undefined {
    const range = (node as Node | null | undefined)?.range;
    return range ? this.#position(range[0]) : undefined;
  }

  #position(offset: number): Position {
    const { line, col } = this.#lineCounter.linePos(offset);
    return { line: Math.max(1, line), column: Math.max(1, col) };
  }
}
