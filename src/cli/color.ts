/**
 * Colours for the terminal only: none when NO_COLOR is set (https://no-color.org: any non-empty
 * value), when TERM is dumb, or when the stream is not a TTY (pipes, files, CI logs), so that
 * output saved or grepped never carries escape codes. FORCE_COLOR (not "0") turns them on anyway,
 * for CI systems that render ANSI.
 */

export interface Colors {
  enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

type Env = Readonly<Record<string, string | undefined>>;

export function colorEnabled(stream: { isTTY?: boolean }, env: Env = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  if (env.TERM === 'dumb') return false;
  return Boolean(stream.isTTY);
}

function style(enabled: boolean, open: number, close: number): (text: string) => string {
  return enabled ? (text) => `\u001b[${open}m${text}\u001b[${close}m` : (text) => text;
}

export function colorsFor(stream: { isTTY?: boolean }, env: Env = process.env): Colors {
  const enabled = colorEnabled(stream, env);
  return {
    enabled,
    bold: style(enabled, 1, 22),
    dim: style(enabled, 2, 22),
    red: style(enabled, 31, 39),
    green: style(enabled, 32, 39),
    yellow: style(enabled, 33, 39),
    cyan: style(enabled, 36, 39),
  };
}
