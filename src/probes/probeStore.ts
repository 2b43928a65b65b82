import type { Disposable, Event } from '../common/event';
import { Emitter } from '../common/event';
import type { Probe, ProbeMethod, SourceLocation } from '../session/probe';
import type { Session } from '../session/session';
import type { ProbeRecord } from './probeKinds';

export type { SourceLocation } from '../session/probe';

type RecordOf<M extends ProbeMethod> = ProbeRecord<M>;

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
    private readonly cap: () => number,
  ) {}

  /** Where the function's code lives, when whoever started the probe knew. */
  get source(): SourceLocation | undefined {
    return this.probe.source;
  }

  /** This entry in a list of entries of every kind (see `Probe.anyKind`). */
  get anyKind(): ProbeEntry {
    return this as unknown as ProbeEntry;
  }

  /** This entry as its own kind, or undefined when it is another kind (`entry.as('trace')`). */
  as<K extends ProbeMethod>(method: K): ProbeEntry<K> | undefined {
    return (this.probe.method as ProbeMethod) === method ? this as unknown as ProbeEntry<K> : undefined;
  }

  add(record: RecordOf<M>): void {
    const cost = record.costMs;
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
  private readonly dirty = new Set<ProbeEntry | undefined>();

  constructor(
    private readonly cap: () => number,
    private readonly coalesceMs = 250,
  ) {}

  /**
   * Keeps every probe started in any of the manager's sessions, whoever started it (editor
   * command, CLI engine, chat, a diagnosis). Probes started before this call are not added.
   */
  follow(sessions: { onDidStartProbe: Event<{ session: Session; probe: Probe }> }): Disposable {
    return sessions.onDidStartProbe(({ session, probe }) => this.add(session, probe));
  }

  /** The entry of a probe, once the store has it. */
  entryOf<M extends ProbeMethod>(probe: Probe<M>): ProbeEntry<M> | undefined {
    return this.entries.find((e) => e.probe === probe.anyKind)?.as(probe.method);
  }

  add<M extends ProbeMethod>(session: Session, probe: Probe<M>): ProbeEntry<M> {
    const existing = this.entryOf(probe);
    if (existing) return existing;
    const entry = new ProbeEntry<M>(session, probe, this.cap);
    const any = entry.anyKind;
    this.entries.unshift(any);
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
    return this.entries.flatMap((e) => e.as(method) ?? []);
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
    this.dirty.add(entry);
    if (now) this.flush();
    else this.pending ??= setTimeout(() => this.flush(), this.coalesceMs);
  }

  private flush(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    const dirty = [...this.dirty];
    this.dirty.clear();
    if (dirty.includes(undefined)) this.changeEmitter.fire(undefined);
    else for (const entry of dirty) this.changeEmitter.fire(entry);
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    this.changeEmitter.dispose();
  }
}
