/** The operators of one profiled call laid out for the timeline panel (pure; the panel draws it). */
import type { TimelineBar, TimelineView } from '../../webview/shared/torchProtocol';
import { frameText } from './torchText';
import { placeOperators } from './traceSummary';

/** The thread with the most operator time (the one that ran the call), every operator on it, up to `maxBars` (the longest kept). */
export function traceTimeline(trace: unknown, title: string, fileName: string, maxBars = 3000): TimelineView {
  const { ops } = placeOperators(trace);
  const perThread = new Map<string, number>();
  for (const op of ops) if (op.depth === 0) perThread.set(op.tid, (perThread.get(op.tid) ?? 0) + op.durUs);
  const tid = [...perThread.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const mine = ops.filter((o) => o.tid === tid);
  const kept = mine.length > maxBars ? [...mine].sort((a, b) => b.durUs - a.durUs).slice(0, maxBars) : mine;
  const start = Math.min(...mine.map((o) => o.startUs));
  const end = Math.max(...mine.map((o) => o.startUs + o.durUs));
  const bars: TimelineBar[] = kept.sort((a, b) => a.startUs - b.startUs).map((o) => ({
    name: o.name, startUs: o.startUs - start, durUs: o.durUs, selfUs: o.selfUs, depth: o.depth, shape: o.shape,
    module: o.modules.length ? o.modules.join(' › ') : null, caller: o.caller ? frameText(o.caller) : null,
  }));
  return { title, fileName, totalUs: mine.length ? end - start : 0, lanes: bars.reduce((m, b) => Math.max(m, b.depth + 1), 0), bars,
    leftOut: mine.length - kept.length };
}
