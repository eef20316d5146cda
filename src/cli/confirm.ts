import { UserError } from '../core/errors.js';
import type { GlobalOptions } from './options.js';

/**
 * Asks the operator on the terminal before hosts change; `--yes` answers for them. With no terminal
 * to ask on (CI, a pipe) nothing changes unless `--yes` was given. The prompt library loads only
 * when a question is actually asked: most runs never need it.
 */
export async function confirmed(globals: GlobalOptions, question: string, action: string): Promise<boolean> {
  if (globals.yes) return true;
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UserError(`refusing to change hosts without confirmation: no terminal to ask on. Pass --yes to ${action}.`);
  }
  const { confirm } = await import('@inquirer/prompts');
  return confirm({ message: question, default: false });
}
