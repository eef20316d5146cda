/**
 * The version of every JSON document infra prints with --json (docs/json.md). It changes only
 * when a field is removed or changes meaning; new fields may appear within one version.
 */
export const JSON_FORMAT_VERSION = 1;

/** One --json document: the format version and the command first, then the command's own fields. */
export function jsonDocument(command: string, fields: Record<string, unknown>): string {
  return `${JSON.stringify({ format_version: JSON_FORMAT_VERSION, command, ...fields }, null, 2)}\n`;
}
