import type { PassphrasePrompt } from '../transport/keys.js';
import type { Progress } from './progress.js';

/**
 * Asks for an encrypted key's passphrase on the terminal, the spinner paused meanwhile; one
 * question at a time, since hosts connect in parallel. Undefined without a terminal: then only
 * INFRA_SSH_PASSPHRASE gives it, and the error says so.
 */
export function passphrasePrompt(progress: Progress): PassphrasePrompt | undefined {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  let asking: Promise<unknown> = Promise.resolve();
  return (identityFile) => {
    const answer = asking.then(async () => {
      progress.stop();
      const { password } = await import('@inquirer/prompts');
      const given = await password({ message: `passphrase for ${identityFile}`, mask: true }, { output: process.stderr });
      progress.start('connecting');
      return given;
    });
    asking = answer.catch(() => undefined);
    return answer;
  };
}
