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
 * bar read it. Change events are coalesced (a hot function must not flood the UI) and name the
 * entry that changed, so a view refreshes one subtree; `undefined` means the list itself changed.
 */
export class ProbeStore {
  private readonly entries: ProbeEntry[] = [];
  private readonly changeEmitter = new Emitter<ProbeEntry | undefined>();
  readonly onDidChange = this.changeEmitter.event;
  private pending: NodeJS.Timeout | undefined;
  private readonly dirty = new Set<ProbeEntry>();

  constructor(
    private readonly cap: () => number,
    private readonly coalesceMs = 250,
  ) {}

  add<M extends ProbeMethod>(session: Session, probe: Probe<M>, source?: SourceLocation): ProbeEntry<M> {
    const entry = new ProbeEntry<M>(session, probe, source, this.cap);
    this.entries.unshift(entry as unknown as ProbeEntry);
    const any = entry as unknown as ProbeEntry;
    probe.onDidRecord((record) => {
      entry.add(record);
      this.changed(any);
    });
    probe.onDidChange(() => this.changed(any));
    void probe.done.catch(() => undefined).finally(() => this.changed(any, true));
    this.changed(undefined, true);
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
    this.changed(undefined, true);
  }

  remove(entry: ProbeEntry): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
    this.changed(undefined, true);
  }

  /** `entry` undefined: the list changed. `now`: flush at once (starts, ends, removals). */
  private changed(entry: ProbeEntry | undefined, now = false): void {
    this.dirty.add(entry as ProbeEntry);
    if (now) this.flush();
    else this.pending ??= setTimeout(() => this.flush(), this.coalesceMs);
  }

  private flush(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    const dirty = [...this.dirty];
    this.dirty.clear();
    if (dirty.includes(undefined as unknown as ProbeEntry)) this.changeEmitter.fire(undefined);
    else for (const entry of dirty) this.changeEmitter.fire(entry);
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    this.changeEmitter.dispose();
  }
}
