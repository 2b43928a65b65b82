import { PyFlightError } from '../common/errors';
import { Emitter } from '../common/event';
import type { ProbeKind, ProbeMethods, StreamSummary } from '../protocol/helper';

export type ProbeMethod = keyof ProbeMethods;
export type ProbeState = 'installing' | 'running' | 'ended' | 'failed';

/** The agent command behind each probe method, for turning it off. */
export const AGENT_TARGET: Record<ProbeMethod, ProbeKind> = { watch: 'watch', trace: 'trace', ttRecord: 'tt' };

let nextProbeId = 1;

/** One live instrumentation (watch / trace / tt recording) inside a target. */
export class Probe<M extends ProbeMethod = ProbeMethod> {
  readonly id = nextProbeId++;
  readonly startedAt = Date.now();
  state: ProbeState = 'installing';
  count = 0;
  /** The agent's argument string, known once installed; needed to turn it off after a helper crash. */
  agentArgs: string | undefined;
  summary: StreamSummary | undefined;
  error: PyFlightError | undefined;
  readonly abort = new AbortController();
  private readonly recordEmitter = new Emitter<ProbeMethods[M]['record']>();
  readonly onDidRecord = this.recordEmitter.event;
  private readonly changeEmitter = new Emitter<Probe<M>>();
  readonly onDidChange = this.changeEmitter.event;
  done!: Promise<StreamSummary>;

  constructor(
    readonly pid: number,
    readonly method: M,
    readonly params: ProbeMethods[M]['params'],
  ) {}

  get isActive(): boolean {
    return this.state === 'installing' || this.state === 'running';
  }

  /** "__main__.Worker.handle" */
  get location(): string {
    const p = this.params as { module: string; class?: string; method: string };
    return [p.module, p.class, p.method].filter(Boolean).join('.');
  }

  /** Asks the helper to turn the probe off; `done` resolves with reason "stopped". */
  stop(): void {
    if (this.isActive) this.abort.abort();
  }

  /** Called by the session. */
  installed(args: string | undefined): void {
    this.agentArgs = args ?? this.agentArgs;
    this.state = 'running';
    this.changeEmitter.fire(this);
  }

  recorded(record: ProbeMethods[M]['record']): void {
    this.count++;
    this.recordEmitter.fire(record);
    this.changeEmitter.fire(this);
  }

  finished(summary: StreamSummary | undefined, error: PyFlightError | undefined): void {
    this.summary = summary;
    this.error = error;
    this.state = error ? 'failed' : 'ended';
    this.changeEmitter.fire(this);
    this.recordEmitter.dispose();
    this.changeEmitter.dispose();
  }
}
