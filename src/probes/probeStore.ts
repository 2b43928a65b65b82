import { Emitter } from '../common/event';
import type { ProbeMethods, TraceRecord, TtRecord, WatchRecord } from '../protocol/helper';
import type { Probe, ProbeMethod } from '../session/probe';
import type { Session } from '../session/session';

export interface SourceLocation {
  file: string;
  /** 1-based line of the function's `def`. */
  line: number;
}

type RecordOf<M extends ProbeMethod> = ProbeMethods[M]['record'];

/** One probe as the views see it: bounded record history, running stats, where its code lives. */
export class ProbeEntry<M extends ProbeMethod = ProbeMethod> {
  /** Newest first; at most `cap` kept, the rest counted in `dropped`. */
  readonly records: RecordOf<M>[] = [];
  dropped = 0;
  lastCostMs: number | undefined;
  maxCostMs: number | undefined;

  constructor(
    readonly session: Session,
    readonly probe: Probe<M>,
    readonly source: SourceLocation | undefined,
    private readonly cap: () => number,
  ) {}

  add(record: RecordOf<M>): void {
    const cost = (record as WatchRecord | TraceRecord | TtRecord).costMs;
    this.lastCostMs = cost;
    this.maxCostMs = Math.max(this.maxCostMs ?? 0, cost);
    this.records.unshift(record);
    const cap = Math.max(1, this.cap());
    if (this.records.length > cap) this.dropped += this.records.splice(cap).length;
  }
}

/**
 * Every probe started in this window, per kind, with its records. Views, CodeLens and the status
 * bar read it; change events are coalesced so a hot function cannot flood the UI.
 */
export class ProbeStore {
  private readonly entries: ProbeEntry[] = [];
  private readonly changeEmitter = new Emitter<void>();
  readonly onDidChange = this.changeEmitter.event;
  private pending: NodeJS.Timeout | undefined;

  constructor(
    private readonly cap: () => number,
    private readonly coalesceMs = 100,
  ) {}

  add<M extends ProbeMethod>(session: Session, probe: Probe<M>, source?: SourceLocation): ProbeEntry<M> {
    const entry = new ProbeEntry<M>(session, probe, source, this.cap);
    this.entries.unshift(entry as unknown as ProbeEntry);
    probe.onDidRecord((record) => {
      entry.add(record);
      this.changed();
    });
    probe.onDidChange(() => this.changed());
    void probe.done.catch(() => undefined).finally(() => this.changed(true));
    this.changed(true);
    return entry;
  }

  of<M extends ProbeMethod>(method: M): ProbeEntry<M>[] {
    return this.entries.filter((e) => e.probe.method === method) as unknown as ProbeEntry<M>[];
  }

  get active(): ProbeEntry[] {
    return this.entries.filter((e) => e.probe.isActive);
  }

  get all(): readonly ProbeEntry[] {
    return this.entries;
  }

  /** Forgets finished probes of a kind (active ones stay). */
  clear(method: ProbeMethod): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i].probe.method === method && !this.entries[i].probe.isActive) this.entries.splice(i, 1);
    }
    this.changed(true);
  }

  remove(entry: ProbeEntry): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
    this.changed(true);
  }

  private changed(now = false): void {
    if (now) {
      if (this.pending) clearTimeout(this.pending);
      this.pending = undefined;
      this.changeEmitter.fire();
      return;
    }
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.changeEmitter.fire();
    }, this.coalesceMs);
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    this.changeEmitter.dispose();
  }
}
