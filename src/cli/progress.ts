import ora, { type Ora } from 'ora';
import type { RunEvent } from '../engine/run.js';
import { colorEnabled } from './color.js';

/**
 * Progress on stderr: an ora spinner on a terminal; plain lines otherwise (CI logs get no
 * spinner frames or escape codes); nothing when `enabled` is false (--json).
 */
export class Progress {
  private spinner: Ora | undefined;
  // A spinner redraws with escape codes: only on a terminal that takes colour, never in CI.
  private readonly interactive = colorEnabled(process.stderr) && !process.env.CI;
  private readonly running = new Map<string, string>();

  constructor(
    private readonly enabled: boolean,
    private readonly verbose = false,
  ) {}

  start(text: string): void {
    if (!this.enabled) return;
    if (this.interactive) this.spinner = ora({ text, stream: process.stderr }).start();
    else process.stderr.write(`${text}\n`);
  }

  update(text: string): void {
    if (!this.enabled) return;
    if (this.spinner) this.spinner.text = text;
    else process.stderr.write(`${text}\n`);
  }

  event(event: RunEvent): void {
    switch (event.type) {
      case 'phase-start':
        this.running.set(event.host, `${event.phase} (${event.changes} changes)`);
        this.line(`${event.host}: ${event.phase}: applying ${event.changes} change(s)`);
        break;
      case 'handlers-start':
        this.running.set(event.host, `${event.phase} handlers`);
        this.line(`${event.host}: ${event.phase}: ${event.handlers.join(', ')}`);
        break;
      case 'packages':
        this.running.set(event.host, 'installing packages');
        this.line(`${event.host}: installing ${event.packages.join(' ')}`);
        break;
      case 'steps':
        if (this.verbose) for (const step of event.steps) this.line(`${event.host}: ${event.phase}: ${step}`);
        break;
      case 'phase-done':
        this.running.delete(event.host);
        break;
      case 'host-failed':
        this.running.delete(event.host);
        this.line(`${event.host}: FAILED in ${event.phase}`);
        break;
    }
    if (this.spinner) {
      this.spinner.text = this.running.size ? `applying: ${[...this.running].map(([h, what]) => `${h} ${what}`).join(', ')}` : 'applying';
    }
  }

  private line(text: string): void {
    if (!this.enabled) return;
    if (this.spinner) this.spinner.info(text).start();
    else process.stderr.write(`${text}\n`);
  }

  stop(): void {
    this.spinner?.stop();
    this.spinner = undefined;
  }
}
