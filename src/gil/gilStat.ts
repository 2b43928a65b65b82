import { PyFlightError } from '../common/errors';
import { Emitter } from '../common/event';
import type { GilMeasure, GilstatParams, GilstatRecord, GilstatSummary } from '../protocol/helper';

export type GilStatState = 'starting' | 'running' | 'ended' | 'failed';

/**
 * One `gilstat on` in a target: flight-profiler's interceptor on take_gil/drop_gil, reporting every
 * interval until stopped. vscode-free (the CLI and the tests drive it). `stop()` sends `off`.
 */
export class GilStat {
  state: GilStatState = 'starting';
  count = 0;
  latest: GilstatRecord | undefined;
  /** Where take_gil/drop_gil were found (file paths), once the helper said. */
  symbols: Record<string, string> | undefined;
  /** Known once on: the interceptor, or py-spy samples where the interpreter has no GIL symbols. */
  measure: GilMeasure | undefined;
  /** Why the measure is sampled. */
  sampledBecause: string | undefined;
  /** The helper sent `on` to the agent: until a summary arrives, the interceptor may be installed. */
  sentOn = false;
  summary: GilstatSummary | undefined;
  error: PyFlightError | undefined;
  readonly abort = new AbortController();
  readonly startedAt = Date.now();
  private readonly recordEmitter = new Emitter<GilstatRecord>();
  readonly onDidRecord = this.recordEmitter.event;
  private readonly changeEmitter = new Emitter<GilStat>();
  readonly onDidChange = this.changeEmitter.event;
  done!: Promise<GilstatSummary>;

  constructor(
    readonly pid: number,
    readonly params: GilstatParams,
  ) {}

  get isActive(): boolean {
    return this.state === 'starting' || this.state === 'running';
  }

  /** Asks the helper to turn gilstat off; `done` resolves with reason "stopped". */
  stop(): void {
    if (this.isActive) this.abort.abort();
  }

  /** Called by the session. */
  progressed(stage: string, detail: unknown): void {
    if (stage === 'symbols' && detail && typeof detail === 'object') this.symbols = detail as Record<string, string>;
    if (stage === 'sampled') {
      this.measure = 'sampled';
      this.sampledBecause = typeof detail === 'string' ? detail : undefined;
    }
    if (stage === 'on') {
      this.measure ??= 'intercept';
      this.sentOn = this.measure === 'intercept';
      this.state = 'running';
    }
    this.changeEmitter.fire(this);
  }

  recorded(record: GilstatRecord): void {
    this.count++;
    this.latest = record;
    this.state = 'running';
    this.recordEmitter.fire(record);
    this.changeEmitter.fire(this);
  }

  finished(summary: GilstatSummary | undefined, error: PyFlightError | undefined): void {
    this.summary = summary;
    this.error = error;
    this.state = error ? 'failed' : 'ended';
    this.changeEmitter.fire(this);
    this.recordEmitter.dispose();
    this.changeEmitter.dispose();
  }
}
