import { PyFlightError } from '../common/errors';
import { Emitter } from '../common/event';
import { PROBE_AGENT_TARGET, type ProbeParams, type ProbeRecord } from '../protocol/methods';
import { Probe, type ProbeMethod, type ProbeStartOptions } from './probe';
import type { SessionCore } from './sessionCore';

/** A session's probes (watch, trace, tt recordings): starting them, their events, and turning off those a crashed helper left. */
export class SessionProbes {
  private readonly active = new Set<Probe>();
  /** Probes of a crashed helper, until a fresh helper turned them off. */
  private readonly orphaned = new Set<Probe>();
  private readonly onDidChangeEmitter = new Emitter<Probe>();
  /** Fires when a probe starts, installs, records or ends. */
  readonly onDidChange = this.onDidChangeEmitter.event;
  private readonly onDidStartEmitter = new Emitter<Probe>();
  /** Fires once per probe, whoever started it, before `start` returns. */
  readonly onDidStart = this.onDidStartEmitter.event;

  constructor(private readonly core: SessionCore) {}

  get all(): Probe[] {
    return [...this.active];
  }

  /** See Session.startProbe. */
  start<M extends ProbeMethod>(method: M, params: ProbeParams<M>, options: ProbeStartOptions = {}): Probe<M> {
    const probe = new Probe<M>(this.core.pid, method, params, options.source, options.group);
    const anyProbe = probe.anyKind; // the set holds probes of every method
    const notReady = this.core.whyNotReady();
    if (notReady) {
      probe.cannotStart(notReady);
      this.onDidStartEmitter.fire(anyProbe);
      return probe;
    }
    const helper = this.core.readyHelper();
    this.active.add(anyProbe);
    const changed = () => this.onDidChangeEmitter.fire(anyProbe);
    const sub = probe.onDidChange(changed);
    probe.done = this.core.loadAgent(probe.abort.signal)
      .then(() => helper.request(method, params, {
        signal: probe.abort.signal,
        onProgress: (stage, detail) => { if (stage === 'installed') probe.installed(detail ?? undefined); },
        // The helper sends the record type of the method it was asked for (protocol/methods.ts).
        onRecord: (record) => probe.recorded(record as ProbeRecord<M>),
      }))
      .then(
        (summary) => {
          probe.finished(summary, undefined);
          return summary;
        },
        (error: unknown) => {
          const failure = PyFlightError.from(error);
          probe.finished(undefined, failure);
          throw failure;
        },
      )
      .finally(() => {
        sub.dispose();
        if (this.orphaned.has(anyProbe)) return; // cleaned up after the crash
        this.active.delete(anyProbe);
        changed();
      });
    probe.done.catch(() => undefined); // callers observe failures through the probe; never unhandled
    this.onDidStartEmitter.fire(anyProbe);
    changed();
    return probe;
  }

  /** Stops every active probe and waits until each is turned off. */
  async stopAll(): Promise<void> {
    const probes = this.all;
    for (const probe of probes) probe.stop();
    await Promise.allSettled(probes.map((p) => p.done));
  }

  /**
   * After a helper crash its probes stay installed in the target (the agent only removes one on
   * `off` or at its limit). A fresh helper reattaches (the agent is reused) and turns each off.
   */
  async turnOffOrphans(): Promise<void> {
    const orphans = this.all.filter((p) => p.agentArgs);
    if (!orphans.length) return;
    for (const probe of orphans) this.orphaned.add(probe);
    try {
      await this.core.withFreshHelper('probes', async (cleaner) => {
        for (const probe of orphans) {
          await cleaner.request('probeOff', { target: PROBE_AGENT_TARGET[probe.method], args: probe.agentArgs! });
          this.core.log.info(`session ${this.core.pid}: turned off ${probe.method} ${probe.location} left by the crashed helper`);
        }
      });
    } finally {
      for (const probe of orphans) {
        this.active.delete(probe);
        this.orphaned.delete(probe);
        this.onDidChangeEmitter.fire(probe);
      }
    }
  }
}
