/**
 * The one place where words become shell text. Every remote command is built as an array of words
 * and quoted here, so no inventory value is ever interpreted by the remote shell.
 */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quoteWord(word: string): string {
  if (word.length > 0 && SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function quoteCommand(argv: readonly string[]): string {
  return argv.map(quoteWord).join(' ');
}
