/**
 * An error meant for the operator: its message says what is wrong, where, and how to fix it. The
 * CLI prints the message alone (no stack) and exits with `exitCode`; with --json it prints the
 * message and `details` (the same facts as data: issues by file and line, refusals…).
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
