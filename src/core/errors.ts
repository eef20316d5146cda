/**
 * An error meant for the operator: its message says what is wrong, where, and how to fix it. The
 * CLI prints the message alone (no stack) and exits with `exitCode`.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
