import type { PyFlightError } from '../common/errors';
import { Emitter } from '../common/event';

/**
 * A long-running agent command that streams records until it is stopped or ends: a probe (watch,
 * trace, tt) or gilstat. One model of state, count, end and events for the views, the CLI and the
 * tests; the session drives it (recorded, finished). vscode-free.
 */
export abstract class AgentStream<Self, Rec, Summary, Start extends string> {
  state: Start | 'running' | 'ended' | 'failed';
  count = 0;
  summary: Summary | undefined;
  error: PyFlightError | undefined;
  readonly abort = new AbortController();
  readonly startedAt = Date.now();
  private readonly recordEmitter = new Emitter<Rec>();
  readonly onDidRecord = this.recordEmitter.event;
  protected readonly changeEmitter = new Emitter<Self>();
  readonly onDidChange = this.changeEmitter.event;
  done!: Promise<Summary>;

  constructor(readonly pid: number, initial: Start) {
    this.state = initial;
  }

  get isActive(): boolean {
    return this.state !== 'ended' && this.state !== 'failed';
  }

  /** Asks the helper to turn the command off; `done` resolves with reason "stopped". */
  stop(): void {
    if (this.isActive) this.abort.abort();
  }

  /** Called by the session. */
  recorded(record: Rec): void {
    this.count++;
    this.recordEmitter.fire(record);
    this.changed();
  }

  /** Called by the session when the stream cannot start at all: `done` rejects with `error`. */
  cannotStart(error: PyFlightError): void {
    this.done = Promise.reject(error);
    this.done.catch(() => undefined);
    this.finished(undefined, error);
  }

  /** Called by the session. */
  finished(summary: Summary | undefined, error: PyFlightError | undefined): void {
    this.summary = summary;
    this.error = error;
    this.state = error ? 'failed' : 'ended';
    this.changed();
    this.recordEmitter.dispose();
    this.changeEmitter.dispose();
  }

  protected changed(): void {
    this.changeEmitter.fire(this as unknown as Self);
  }
}
