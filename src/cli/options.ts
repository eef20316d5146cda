import { UserError } from '../core/errors.js';

/**
 * The flags every command shares (declared on the program in main.ts). Their own module, so the
 * commands and actions that read them do not import main.ts, which imports them all.
 */
export interface GlobalOptions {
  limit?: string[];
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  yes?: boolean;
}

/** `--forks N`: how many hosts are worked on at once; undefined (all of them) when not given. */
export function parseForks(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const forks = Number(text);
  if (!Number.isInteger(forks) || forks < 1) throw new UserError(`--forks ${text}: expected a whole number of at least 1`);
  return forks;
}
