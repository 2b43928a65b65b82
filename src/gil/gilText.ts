/** GIL reports as text: the CLI's lines, the status bar's figures, the alert list. Pure. */
import type { GilAlert, GilstatRecord, GilstatSummary, GilThread } from '../protocol/helper';

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}

/** Threads the user cares about: flight-profiler's own (its workers, the stat thread) only on request. */
export function visibleThreads(record: GilstatRecord, agentThreads = false): GilThread[] {
  return record.threads.filter((t) => agentThreads || !t.agent);
}

/** Share of the report's measured interval a figure covers, "96%" (at most 100%). */
function share(valueMs: number, record: GilstatRecord): string {
  const seconds = record.elapsedSeconds > 0 ? record.elapsedSeconds : record.intervalSeconds;
  return `${Math.min(100, Math.round((valueMs / (seconds * 1000)) * 100))}%`;
}

/** The thread that held the GIL longest in the interval, or undefined. */
export function topHolder(record: GilstatRecord): GilThread | undefined {
  return visibleThreads(record).find((t) => t.intervalHoldMs > 0);
}

/** "report 2 at 2026-11-26 14:14:38.375, last 1.06 s: 51 alerts (51 waits, 0 holds over the thresholds; only
 * the newest kept)", then a line per thread: time holding the GIL and waiting for it in that interval. */
export function gilReportLines(record: GilstatRecord, agentThreads = false): string[] {
  const waits = record.alerts.filter((a) => a.event === 'wait').length;
  const holds = record.alerts.length - waits;
  const alerts = record.alertCount
    ? `${record.alertCount} alert${record.alertCount === 1 ? '' : 's'} (${waits} wait${waits === 1 ? '' : 's'}, ${holds} hold${holds === 1 ? '' : 's'} over the thresholds${record.alertsCut ? '; only the newest kept' : ''})`
    : 'no alerts';
  const lines = [`report ${record.index} at ${record.time ?? '?'}, last ${record.elapsedSeconds.toFixed(2)} s: ${alerts}`];
  const threads = visibleThreads(record, agentThreads);
  const width = Math.max(6, ...threads.map((t) => t.thread.length));
  if (record.measure === 'sampled') {
    const n = record.samples ?? 0;
    lines[0] = `report ${record.index} at ${record.time ?? '?'}, last ${record.elapsedSeconds.toFixed(2)} s: sampled (${n} samples by py-spy; waits and alerts need the interceptor)`;
    for (const t of threads) {
      lines.push(`  ${t.thread.padEnd(width)}  held the GIL in ${t.gilSamples ?? 0} of ${n} samples (${share(t.intervalHoldMs, record).padStart(4)})`);
    }
    return lines;
  }
  for (const t of threads) {
    lines.push(`  ${t.thread.padEnd(width)}  held ${ms(t.intervalHoldMs).padStart(9)} (${share(t.intervalHoldMs, record).padStart(4)})`
      + `  waited ${ms(t.intervalWaitMs).padStart(9)} (${share(t.intervalWaitMs, record).padStart(4)})  ${t.intervalTakes} takes`);
  }
  return lines;
}

/** "gil-waiter-0 waited 21.2 ms for the GIL" */
export function alertText(alert: GilAlert): string {
  return `${alert.thread || alert.threadId} ${alert.event === 'wait' ? 'waited' : 'held the GIL for'} ${ms(alert.ms)}${alert.event === 'wait' ? ' for the GIL' : ''}`;
}

/** The status bar: "GIL gil-hog 96% · max wait 94%", the latest interval's top holder and the longest waiter. */
export function gilStatusText(record: GilstatRecord | undefined): string {
  if (!record) return 'GIL: measuring…';
  const threads = visibleThreads(record);
  const holder = threads.find((t) => t.intervalHoldMs > 0);
  const waiter = [...threads].sort((a, b) => b.intervalWaitMs - a.intervalWaitMs)[0];
  const parts = [holder ? `${holder.thread} holds ${share(holder.intervalHoldMs, record)}` : 'idle'];
  if (waiter && waiter.intervalWaitMs > 0) parts.push(`${waiter.thread} waits ${share(waiter.intervalWaitMs, record)}`);
  return `GIL${record.measure === 'sampled' ? ' (sampled)' : ''}: ${parts.join(' · ')}`;
}

/** "gilstat off: 3 reports, stopped" */
export function gilEndText(summary: GilstatSummary): string {
  const reason = summary.reason === 'exited' ? 'process exited' : 'stopped';
  return `gilstat off: ${summary.count} report${summary.count === 1 ? '' : 's'}, ${reason}`;
}
