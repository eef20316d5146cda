import { describe, expect, it } from 'vitest';
import { quoteCommand, quoteWord } from '../../src/core/shell.js';

describe('quoteWord', () => {
  it('leaves plain words alone', () => {
    expect(quoteCommand(['ufw', 'allow', 'from', '10.0.0.1/32', 'port', '22'])).toBe('ufw allow from 10.0.0.1/32 port 22');
  });
  it('quotes anything the shell would interpret, including single quotes', () => {
    expect(quoteWord("it's; rm -rf / $(x)")).toBe(`'it'\\''s; rm -rf / $(x)'`);
    expect(quoteWord('')).toBe("''");
  });
});
