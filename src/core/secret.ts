import { inspect } from 'node:util';

const REDACTED = '[secret]';

/**
 * A value that must never be shown: it prints, serialises and inspects as "[secret]" so that a
 * log line, a diff, a JSON report or an error message cannot leak it by accident. Only
 * `reveal()` gives the clear text, and only code that writes it to a host (over stdin, never argv)
 * calls it.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Shorter pieces are not redacted on their own: they would hide ordinary text. */
const MIN_PIECE = 8;

/** The characters of a regular expression that stand for themselves only when escaped. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * The base64 text that the secret's bytes become wherever they fall in a longer base64 stream (a
 * file's content inside a change script, or a whole script): one for each of the three offsets a
 * byte can have in a 3-byte group, without the characters that also depend on the bytes around
 * it. base64 is wrapped in lines, so a line break may come between any two characters.
 */
function base64Patterns(clear: string): string[] {
  const bytes = Buffer.from(clear, 'utf8');
  const patterns: string[] = [];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const stable = encoded.slice(Math.ceil((offset * 8) / 6), Math.floor(((offset + bytes.length) * 8) / 6));
    if (stable.length >= MIN_PIECE) patterns.push([...stable].map(literal).join('\\n?'));
  }
  return patterns;
}

/**
 * Every form in which infra puts a secret into text, each as a regular expression: as it is; inside
 * a single-quoted shell word (quoteWord); double-quoted for a systemd EnvironmentFile or a shell
 * (environmentValue in roles/app.ts); inside an SQL string literal (sqlString in mysql-client.ts),
 * also within a shell word, as mysqlScript sends SQL; inside a JSON string; in base64; and each
 * line of a secret of several lines (a PEM key) on its own.
 */
function secretPatterns(clear: string): string[] {
  const shellQuoted = (text: string) => text.replace(/'/g, "'\\''");
  const sqlEscaped = clear.replace(/[\\'\n\r\0]/g, (char) => ({ '\\': '\\\\', "'": "''", '\n': '\\n', '\r': '\\r', '\0': '\\0' })[char] as string);
  const forms = new Set([
    clear,
    shellQuoted(clear),
    clear.replace(/[\\"$`]/g, '\\$&'),
    sqlEscaped,
    shellQuoted(sqlEscaped),
    JSON.stringify(clear).slice(1, -1),
    // A PEM block's BEGIN and END lines are not secret, and are everywhere.
    ...clear.split(/\r?\n/).filter((line) => line.length >= MIN_PIECE && !/^-----(BEGIN|END) /.test(line)),
  ]);
  return [...[...forms].map(literal), ...base64Patterns(clear)];
}

const patternsOf = new WeakMap<Secret, string[]>();

/** Replaces every occurrence of each secret, in any of the forms infra writes it in (secretPatterns), by "[secret]". */
export function redact(text: string, secrets: readonly Secret[]): string {
  const patterns = secrets.flatMap((secret) => {
    if (secret.reveal().length === 0) return [];
    let known = patternsOf.get(secret);
    if (known === undefined) patternsOf.set(secret, (known = secretPatterns(secret.reveal())));
    return known;
  });
  if (patterns.length === 0) return text;
  // Longest first: where one form holds another, the whole of it goes.
  patterns.sort((a, b) => b.length - a.length);
  return text.replace(new RegExp(patterns.join('|'), 'g'), REDACTED);
}
