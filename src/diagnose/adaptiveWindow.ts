/**
 * Windows that adapt to the event rate they measure (issue 20, item 7): a playbook opens a first
 * window of its usual length, measures how many events it saw, and — when too few to judge and its
 * budget allows — opens a second one as long as that rate says it takes to see enough (a busy or
 * starved machine makes a target raise, call and run less per second). Pure.
 */
import type { ExceptionEntry, ExceptionWindowResult } from '../protocol/helper';

/** Events a window should see before the playbook judges from it. */
export const ENOUGH_EVENTS = 5;

/**
 * The seconds of a second window, or 0 when the first one saw enough or no time is left: as long as
 * the measured rate needs to reach `enough` events in all, at least 1 s, at most what is left. With
 * no event at all, the rate is unknown: twice the first window, or what is left.
 */
export function nextWindowSeconds(events: number, seconds: number, secondsLeft: number, enough = ENOUGH_EVENTS): number {
  const left = Math.floor(secondsLeft);
  if (events >= enough || left < 1) return 0;
  if (events === 0) return Math.min(left, Math.max(1, Math.ceil(seconds * 2)));
  const rate = events / Math.max(0.1, seconds);
  return Math.min(left, Math.max(1, Math.ceil((enough - events) / rate)));
}

/** Seconds to watch for `want` records of something seen `count` times in `seconds`: twice what the rate says, within [min, max]. */
export function watchSecondsFor(count: number, seconds: number, want: number, min: number, max: number): number {
  if (count <= 0) return max;
  const rate = count / Math.max(0.1, seconds);
  return Math.max(min, Math.min(max, Math.ceil((2 * want) / rate)));
}

const entryKey = (e: ExceptionEntry) => `${e.file}\u0000${e.function}\u0000${e.typeModule}.${e.type}`;

/** Two exception windows of the same process as one: counts summed, samples and handlers merged, the span of both. */
export function mergeWindows(a: ExceptionWindowResult, b: ExceptionWindowResult): ExceptionWindowResult {
  const byKey = new Map<string, ExceptionEntry>();
  for (const e of [...a.exceptions, ...b.exceptions]) {
    const have = byKey.get(entryKey(e));
    if (!have) {
      byKey.set(entryKey(e), { ...e, samples: [...e.samples], handlers: e.handlers.map((h) => ({ ...h })), threads: { ...e.threads } });
      continue;
    }
    have.count += e.count;
    have.samples = [...have.samples, ...e.samples].slice(0, Math.max(have.samples.length, e.samples.length, 3));
    for (const h of e.handlers) {
      const same = have.handlers.find((x) => x.file === h.file && x.line === h.line && x.clauseLine === h.clauseLine);
      if (same) same.count += h.count;
      else have.handlers.push({ ...h });
    }
    for (const [t, n] of Object.entries(e.threads)) have.threads[t] = (have.threads[t] ?? 0) + n;
  }
  const union = (x: string[], y: string[]) => [...new Set([...x, ...y])];
  return {
    seconds: a.seconds + b.seconds,
    startedAt: a.startedAt,
    endedAt: b.endedAt,
    stopReason: b.stopReason,
    events: a.events + b.events,
    maxEvents: a.maxEvents + b.maxEvents,
    dropped: a.dropped + b.dropped,
    tracedThreads: union(a.tracedThreads, b.tracedThreads),
    skippedThreads: union(a.skippedThreads, b.skippedThreads),
    exceptions: [...byKey.values()].sort((x, y) => y.count - x.count),
    // What is left after the last window is what counts.
    stillTraced: b.stillTraced,
    cancelled: a.cancelled || b.cancelled,
    ...(b.mechanism ? { mechanism: b.mechanism } : {}),
  };
}
