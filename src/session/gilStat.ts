import { AgentStream } from './agentStream';
import type { GilMeasure, GilstatParams, GilstatRecord, GilstatSummary } from '../protocol/helper';

export type GilStatState = GilStat['state'];

/**
 * One `gilstat on` in a target: flight-profiler's interceptor on take_gil/drop_gil, reporting every
 * interval until stopped (an AgentStream: `stop()` sends `off`).
 */
export class GilStat extends AgentStream<GilStat, GilstatRecord, GilstatSummary, 'starting'> {
  latest: GilstatRecord | undefined;
  /** Where take_gil/drop_gil were found (file paths), once the helper said. */
  symbols: Record<string, string> | undefined;
  /** Known once on: the interceptor, or py-spy samples where the interpreter has no GIL symbols. */
  measure: GilMeasure | undefined;
  /** Why the measure is sampled. */
  sampledBecause: string | undefined;
  /** The helper sent `on` to the agent: until a summary arrives, the interceptor may be installed. */
  sentOn = false;

  constructor(
    pid: number,
    readonly params: GilstatParams,
  ) {
    super(pid, 'starting');
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
    this.changed();
  }

  override recorded(record: GilstatRecord): void {
    this.latest = record;
    this.state = 'running';
    super.recorded(record);
  }
}
