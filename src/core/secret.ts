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

/** Replaces every occurrence of each secret's clear text in `text` by "[secret]". */
export function redact(text: string, secrets: readonly Secret[]): string {
  let out = text;
  for (const secret of secrets) {
    const clear = secret.reveal();
    if (clear.length > 0) out = out.split(clear).join(REDACTED);
  }
  return out;
}
