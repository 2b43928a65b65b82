import { PyFlightError } from '../common/errors';
import { Emitter } from '../common/event';
import { capabilityRefusal } from '../preflight/capabilities';
import type { GilstatParams, GilstatRecord } from '../protocol/helper';
import { GilStat } from './gilStat';
import type { SessionCore } from './sessionCore';

/** A session's `gilstat on` (one at a time), and turning off an interceptor a crashed helper left on. */
export class SessionGilstat {
  private active: GilStat | undefined;
  private readonly onDidStartEmitter = new Emitter<GilStat>();
  /** Fires when gilstat starts in this target, whoever started it. */
  readonly onDidStart = this.onDidStartEmitter.event;

  constructor(private readonly core: SessionCore) {}

  /** The live `gilstat on`, if any. */
  get current(): GilStat | undefined {
    return this.active?.isActive ? this.active : undefined;
  }

  /** See Session.startGilstat. */
  start(params: GilstatParams = {}): GilStat {
    if (this.active?.isActive) return this.active;
    const gil = new GilStat(this.core.pid, params);
    const notReady = this.core.whyNotReady() ?? capabilityRefusal(this.core.capabilities(), 'gilstat');
    if (notReady) {
      gil.cannotStart(notReady);
      return gil;
    }
    const helper = this.core.readyHelper();
    this.active = gil;
    // The interceptor needs the agent; an interpreter without take_gil/drop_gil symbols is sampled
    // from outside (py-spy), so nothing is loaded for it.
    gil.done = helper.request('gilstatState', {}, { signal: gil.abort.signal })
      .then((state) => (state.symbols.take_gil && state.symbols.drop_gil ? this.core.loadAgent(gil.abort.signal) : undefined))
      .then(() => helper.request('gilstatOn', params, {
        signal: gil.abort.signal,
        onProgress: (stage, detail) => gil.progressed(stage, detail as unknown),
        onRecord: (record) => gil.recorded(record as GilstatRecord),
      }))
      .then(
        (summary) => {
          gil.finished(summary, undefined);
          return summary;
        },
        async (error: unknown) => {
          const failure = PyFlightError.from(error);
          gil.finished(undefined, failure);
          throw await this.core.requestFailed(failure);
        },
      );
    gil.done.catch(() => undefined);
    this.onDidStartEmitter.fire(gil);
    return gil;
  }

  /** After a helper crash the interceptor stays on (the agent only removes it on `off`): a fresh helper sends it. */
  async turnOffOrphan(): Promise<void> {
    const gil = this.active;
    if (!gil?.sentOn || gil.summary) return;
    await this.core.withFreshHelper('gilstat', async (cleaner) => {
      await cleaner.request('gilstatOff', {});
      this.core.log.info(`session ${this.core.pid}: turned off gilstat left by the crashed helper`);
    });
  }
}
