import { createHash } from 'node:crypto';

/**
 * The shared state as one document: every file of the state directory infra renders from (CA,
 * generated secrets, issued keys and certificates) with its mode and time, and the recipients it
 * was last encrypted to. Pure, so packing and unpacking are tested as data; `shared.ts` does the
 * I/O and `age.ts` the encryption.
 */
export const BUNDLE_FORMAT = 'infra-state/1';

export interface StateFile {
  /** Octal permission bits, e.g. "600". */
  mode: string;
  /** Kept so a saved plan made on one machine still matches the state listing on another. */
  mtimeMs: number;
  /** The file's bytes, base64. */
  content: string;
}

export interface StateBundle {
  format: typeof BUNDLE_FORMAT;
  recipients: string[];
  /** By path relative to the state directory, sorted. */
  files: Record<string, StateFile>;
}

/** Serialises a bundle the same way for the same content, so its hash says whether anything changed. */
export function serializeBundle(bundle: StateBundle): string {
  const files = Object.fromEntries(Object.entries(bundle.files).sort(([a], [b]) => a.localeCompare(b)));
  return `${JSON.stringify({ format: bundle.format, recipients: [...bundle.recipients], files }, null, 1)}\n`;
}

export function bundleHash(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Reads a decrypted bundle; `source` names the file in the error. */
export function parseBundle(text: string, source: string): StateBundle {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${source} does not hold infra's state (not JSON once decrypted)`);
  }
  const bundle = value as Partial<StateBundle>;
  if (bundle?.format !== BUNDLE_FORMAT || !Array.isArray(bundle.recipients) || typeof bundle.files !== 'object' || bundle.files === null) {
    throw new Error(`${source} does not hold infra's state in the format ${BUNDLE_FORMAT}`);
  }
  for (const [path, file] of Object.entries(bundle.files)) {
    if (!isSafeRelativePath(path) || typeof file?.content !== 'string' || !/^[0-7]{3,4}$/.test(String(file?.mode))) {
      throw new Error(`${source}: entry ${JSON.stringify(path)} is not a plain file inside the state directory`);
    }
  }
  return bundle as StateBundle;
}

/** A path that stays inside the state directory once joined to it: no `..`, no absolute path. */
export function isSafeRelativePath(path: string): boolean {
  return path !== '' && !path.startsWith('/') && path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}
