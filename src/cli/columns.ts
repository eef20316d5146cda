/** The width of a host-name column: the longest name, at least 12 so that short names keep one layout. */
export function hostColumnWidth(names: readonly string[]): number {
  return Math.max(12, ...names.map((name) => name.length));
}
