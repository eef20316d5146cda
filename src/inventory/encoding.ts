import type { Position } from './positions.js';

/**
 * The inventory's bytes as text. YAML files are UTF-8 here (a UTF-8 byte order mark is allowed);
 * an editor that saved the file as UTF-16 (Windows Notepad, PowerShell's `>`) or in a legacy
 * encoding gets a message that names the encoding and the fix, instead of the YAML parser's
 * complaint about the characters it could not read.
 */
export function decodeInventory(bytes: Buffer): { text: string } | { problem: string; position?: Position } {
  const utf16 = utf16Kind(bytes);
  if (utf16) return { problem: `the file is ${utf16}; save it as UTF-8` };
  if (bytes.includes(0)) {
    const offset = bytes.indexOf(0);
    return {
      problem: 'the file holds a NUL byte, so it is binary rather than YAML text; check that this is the inventory, saved as UTF-8',
      position: positionOf(bytes.subarray(0, offset).toString('utf8'), offset),
    };
  }
  const text = bytes.toString('utf8');
  const invalid = firstInvalidUtf8(bytes, text);
  if (invalid !== undefined) {
    const prefix = bytes.subarray(0, invalid).toString('utf8');
    return {
      problem:
        `the file is not UTF-8: byte 0x${bytes[invalid]!.toString(16).toUpperCase().padStart(2, '0')} here is not valid UTF-8 ` +
        '(a Latin-1 or Windows-1252 file?); save it as UTF-8',
      position: positionOf(prefix, prefix.length),
    };
  }
  return { text };
}

/** 1-based line and column of `offset` in `text`. */
export function positionOf(text: string, offset: number): Position {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}

/**
 * "UTF-16 …" when the bytes are UTF-16 or UTF-32: by the byte order mark, or, without one, by the
 * zero bytes that ASCII text (all YAML punctuation and keys) has in every other byte.
 */
function utf16Kind(bytes: Buffer): string | undefined {
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0x0000feff) return 'UTF-32 (big-endian, with a byte order mark)';
  if (bytes.length >= 4 && bytes.readUInt32LE(0) === 0x0000feff) return 'UTF-32 (little-endian, with a byte order mark)';
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return 'UTF-16 (little-endian, with a byte order mark)';
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return 'UTF-16 (big-endian, with a byte order mark)';
  // Whole pairs of the first 4 KB.
  const sample = bytes.subarray(0, Math.min(bytes.length, 4096) & ~1);
  let zeroEven = 0;
  let zeroOdd = 0;
  for (let index = 0; index < sample.length; index++) {
    if (sample[index] !== 0) continue;
    if (index % 2 === 0) zeroEven++;
    else zeroOdd++;
  }
  const pairs = sample.length / 2;
  // Half the pairs is far below what ASCII-heavy YAML gives, and far above what a stray NUL does;
  // a few zeros on the other side are characters such as U+0100.
  if (pairs >= 2 && zeroOdd >= pairs / 2 && zeroEven < zeroOdd / 4) return 'UTF-16 (little-endian, without a byte order mark)';
  if (pairs >= 2 && zeroEven >= pairs / 2 && zeroOdd < zeroEven / 4) return 'UTF-16 (big-endian, without a byte order mark)';
  return undefined;
}

/**
 * The offset of the first byte that is not valid UTF-8, if any. Node's decoder turns such bytes into
 * U+FFFD; a U+FFFD that the file itself holds (EF BF BD) is not one.
 */
function firstInvalidUtf8(bytes: Buffer, text: string): number | undefined {
  let from = 0;
  for (;;) {
    const at = text.indexOf('\uFFFD', from);
    if (at < 0) return undefined;
    const offset = Buffer.byteLength(text.slice(0, at), 'utf8');
    if (!(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) return offset;
    from = at + 1;
  }
}
