import type { Ora, Options as OraOptions } from 'ora';
import type { PrepareEvent } from '../engine/prepare.js';
import type { RunEvent } from '../engine/run.js';
import { colorEnabled } from './color.js';

/**
 * Progress on stderr: an ora spinner on a terminal; plain lines otherwise (CI logs get no
 * spinner frames or escape codes); nothing when `enabled` is false (--json).
 */
export class Progress {
  private spinner: Ora | undefined;
  private readonly running = new Map<string, string>();
  private readonly preparing = { selected: 0, rendered: 0, connected: false };

  private constructor(
    private readonly enabled: boolean,
    private readonly verbose: boolean,
    /** The spinner library, loaded only for a terminal that shows it. */
    private readonly ora: ((options: OraOptions) => Ora) | undefined,
  ) {}

  static async create(enabled: boolean, verbose = false): Promise<Progress> {
    // A spinner redraws with escape codes: only on a terminal that takes colour, never in CI.
    const interactive = enabled && colorEnabled(process.stderr) && !process.env.CI;
    return new Progress(enabled, verbose, interactive ? (await import('ora')).default : undefined);
  }

  start(text: string): void {
    if (!this.enabled) return;
    if (this.ora) this.spinner = this.ora({ text, stream: process.stderr }).start();
    else process.stderr.write(`${text}\n`);
  }

  update(text: string): void {
    if (!this.enabled) return;
    if (this.spinner) this.spinner.text = text;
    else process.stderr.write(`${text}\n`);
  }

  /**
   * How far reading the inventory and connecting has got, on the spinner only: without a terminal
   * the start line said it, and a line per host would only lengthen CI logs.
   */
  prepareEvent(event: PrepareEvent): void {
    switch (event.type) {
      case 'selected':
        this.preparing.selected = event.hosts.length;
        break;
      case 'rendered':
        this.preparing.rendered += 1;
        break;
      case 'connected':
        this.preparing.connected = true;
        break;
      case 'host-key-replaced':
        return;
    }
    if (this.spinner) {
      const { selected, rendered, connected } = this.preparing;
      this.spinner.text = `reading the inventory and connecting: ${rendered}/${selected} rendered${connected ? ', connected' : ''}`;
    }
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
