/**
 * Plain-text formatting of probe records and summaries, shared by the views, CodeLens, the status
 * bar and the CLI. No `vscode` import: the CLI and unit tests use it as is.
 */
import type { StreamSummary, TraceNode, TraceRecord, TtDetail, TtRecord, WatchRecord } from '../protocol/helper';

/** "6.5 ms", "120 ms", "0.012 ms", "–" when unknown. */
export function ms(value: number | undefined | null): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '–';
  return value >= 100 ? `${value.toFixed(0)} ms` : value >= 1 ? `${value.toFixed(1)} ms` : `${value.toFixed(3)} ms`;
}

/** Local wall-clock time with milliseconds: "12:14:44.123". */
export function clockTime(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** The agent's multi-line rendering folded onto one line: `(\n  (\n    20\n  ),\n  40\n)` → `((20), 40)`. */
export function compact(text: string, max = 200): string {
  const one = text.replace(/\s*\n\s*/g, (_m, offset: number) => (text[offset - 1] === ',' ? ' ' : '')).trim();
  return one.length > max ? one.slice(0, max) + '…' : one;
}

/** "module.Class.method" (the class left out for a module function). */
export function qualifiedName(where: { module: string; class?: string | null; method: string }): string {
  return [where.module, where.class, where.method].filter(Boolean).join('.');
}

export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** What a probe's records are, for counts: "exception", "matching call", "call", "record". */
export function recordNoun(method: string, params: { exceptionOnly?: boolean; filter?: string; entranceTimeMs?: number }): string {
  if (method === 'ttRecord') return 'record';
  if (method === 'watch' && params.exceptionOnly) return 'exception';
  if (params.filter || (params.entranceTimeMs ?? 0) > 0) return 'matching call';
  return 'call';
}

/**
 * Why a probe ended, in words: "3 of 3 exceptions · ended: limit 3 reached", "stopped after 1000 calls, 4 matched",
 * "12 calls · stopped", "5 calls · process exited".
 */
export function endText(summary: StreamSummary, noun: string): string {
  const count = summary.matched ?? summary.count;
  switch (summary.reason) {
    case 'limit':
      if (summary.belowInterval && summary.intervalMs !== undefined) return `${plural(count, noun)} · ${fasterText(summary.belowInterval, summary.intervalMs)}`;
      return summary.limit ? `${count} of ${plural(summary.limit, noun)} · ended: limit ${summary.limit} reached` : plural(count, noun);
    case 'calls':
      return `stopped after ${plural(summary.calls ?? summary.callBudget ?? 0, 'call')}, ${count} matched`;
    case 'exited':
      return `${plural(count, noun)} · process exited`;
    case 'removed':
      return `${plural(count, noun)} · ended: another session or flight-profiler client stopped probing this function`;
    case 'stopped':
    default:
      return `${plural(count, noun)} · stopped`;
  }
}

/**
 * trace's calls under its interval: "2 calls were faster than -i 0.1 ms, so not recorded (lower it:
 * -i 0.01, or -i 0 for every call)".
 */
export function fasterText(below: number, intervalMs: number): string {
  const lower = intervalMs > 0.01 ? '-i 0.01, or -i 0 for every call' : '-i 0 records every call';
  return `ended: limit reached; ${below === 1 ? '1 call was' : `${below} calls were`} faster than -i ${intervalMs} ms, so not recorded `
    + `(lower the threshold: ${lower})`;
}

/** The last line of a traceback: "ValueError: not enough values to unpack (expected 2, got 1)". */
export function exceptionLine(traceback: string | null | undefined): string | undefined {
  return traceback?.trim().split('\n').filter((l) => l.trim()).pop()?.trim();
}

/** Why the watch expression or filter failed, in one line, or undefined when it did not. */
export function watchFailure(r: WatchRecord): string | undefined {
  if (r.expressionError) return `expression failed: ${r.expressionErrorLine ?? exceptionLine(r.expressionError) ?? ''}`.trim();
  if (r.filterError) return `filter failed: ${r.filterErrorLine ?? exceptionLine(r.filterError) ?? ''}`.trim();
  return undefined;
}

/** The function name of a record's method id: "__main__.Store.put" → "put". */
function shortName(method: string): string {
  return method.split('.').pop() ?? method;
}

/**
 * One watch record at a glance, after the time and cost: `parse_line(line='bad3') raised
 * ValueError: …`, `put(key='k1', value=1) → 3`, `args[0] = 'k1'` (a user --expr), or the
 * expression/filter failure.
 */
export function watchSummary(r: WatchRecord, max = 120): string {
  const failure = watchFailure(r);
  if (failure) return failure;
  const raised = r.isException ? `raised ${exceptionLine(r.exception) ?? r.exceptionType ?? 'an exception'}` : undefined;
  if (r.arguments !== undefined && r.arguments !== null) {
    const call = `${shortName(r.method)}(${compact(r.arguments, max)})`;
    return raised ? `${call} ${raised}` : `${call} → ${compact(r.returned ?? '', max)}`;
  }
  const value = `${r.expr ?? 'value'} = ${compact(r.value ?? '', max)}`;
  return raised ? `${raised} · ${value}` : value;
}

/** One line per watch record, for the CLI: "12:14:44.123  0.012 ms  ✗ parse_line(line='bad3') raised ValueError: …". */
export function watchLine(r: WatchRecord): string {
  const mark = r.isException || r.expressionError || r.filterError ? '✗' : '✓';
  return `${clockTime(r.time)}  ${ms(r.costMs).padStart(9)}  ${mark} ${watchSummary(r, 200)}`;
}

/** "ingest", or "tid 1234" when the agent did not know the thread's name. */
export function threadLabel(r: Pick<TraceRecord, 'thread' | 'threadId'>): string {
  return r.thread || (r.threadId ? `tid ${r.threadId}` : '');
}

/** Where a frame's code is, short: "orders.py:12", "built-in", or "" when unknown. */
export function frameWhere(n: Pick<TraceNode, 'builtin' | 'file' | 'line'>): string {
  if (n.builtin) return 'built-in';
  if (!n.file) return '';
  const base = n.file.split(/[\\/]/).pop();
  return n.line ? `${base}:${n.line}` : `${base}`;
}

/** A frame's function, awaited ones marked: "[await] fetch". */
export function frameName(n: Pick<TraceNode, 'function' | 'await'>): string {
  return n.await ? `[await] ${n.function}` : n.function;
}

/** Where a frame's code is, whole: "/srv/app/orders.py:12", or "built-in". */
export function frameFile(n: Pick<TraceNode, 'file' | 'line'>): string {
  return `${n.file ?? 'built-in'}${n.line ? `:${n.line}` : ''}`;
}

/** The child holding most of its parent's time: the "hot path". */
export function hottestChild<T extends { costMs: number; children: T[] }>(node: T): T | undefined {
  return node.children.reduce<T | undefined>((best, c) => (!best || c.costMs > best.costMs ? c : best), undefined);
}

/**
 * A trace as an indented call tree (as Arthas prints it):
 *   12:14:44.123 thread=ingest cost=6.5 ms
 *   `---[6.5 ms 100%] handle  records_service.py:31
 *       +---[0.1 ms 2%] parse_line  records_service.py:26
 *       `---[6.3 ms 97%] put  records_service.py:17
 */
export function traceLines(r: TraceRecord): string[] {
  const lines = [`${clockTime(r.time)} thread=${threadLabel(r) || '?'} cost=${ms(r.costMs)}`];
  const walk = (n: TraceNode, parentCost: number, prefix: string, last: boolean, top: boolean) => {
    const pct = parentCost > 0 ? Math.round((n.costMs / parentCost) * 100) : 100;
    const name = frameName(n);
    const at = frameWhere(n);
    lines.push(`${prefix}${top || last ? '`---' : '+---'}[${ms(n.costMs)} ${pct}%] ${name}${at ? `  ${at}` : ''}`);
    const childPrefix = prefix + (top || last ? '    ' : '|   ');
    n.children.forEach((c, i) => walk(c, n.costMs, childPrefix, i === n.children.length - 1, false));
  };
  walk(r.root, r.costMs, '', true, true);
  return lines;
}

/** One node of the merged tree of several traced calls of one function. */
export interface MergedNode {
  function: string;
  file: string | null;
  line: number | null;
  builtin: boolean;
  await: boolean;
  /** Sum over all merged calls. */
  totalMs: number;
  /** totalMs / number of merged calls (calls where it did not run count as 0). */
  avgMs: number;
  /** The most it took in one call. */
  maxMs: number;
  /** In how many of the calls it ran. */
  calls: number;
  /** How many times it ran in all (a child called in a loop counts each time). */
  hits: number;
  /** For hottestChild: the total. */
  costMs: number;
  children: MergedNode[];
}

/**
 * Merges the call trees of `records` (same traced function): children are matched by function,
 * file and line under the same path; times are totalled, averaged over all the calls and maxed
 * per call. Children are ordered by total time, biggest first.
 */
export function mergeTraces(records: readonly TraceRecord[]): MergedNode | undefined {
  if (!records.length) return undefined;
  const n = records.length;
  const keyOf = (t: TraceNode) => `${t.function}\u0000${t.file ?? ''}\u0000${t.line ?? ''}\u0000${t.await ? 1 : 0}`;
  const fresh = (t: TraceNode): MergedNode => ({ function: t.function, file: t.file, line: t.line, builtin: t.builtin, await: t.await,
    totalMs: 0, avgMs: 0, maxMs: 0, calls: 0, hits: 0, costMs: 0, children: [] });
  const root = fresh(records[0].root);
  const perCall = new Map<MergedNode, number>();
  const add = (into: MergedNode, t: TraceNode, index: Map<MergedNode, Map<string, MergedNode>>) => {
    into.totalMs += t.costMs;
    into.hits++;
    perCall.set(into, (perCall.get(into) ?? 0) + t.costMs);
    let kids = index.get(into);
    if (!kids) index.set(into, (kids = new Map()));
    for (const c of t.children) {
      const key = keyOf(c);
      let child = kids.get(key);
      if (!child) {
        child = fresh(c);
        kids.set(key, child);
        into.children.push(child);
      }
      add(child, c, index);
    }
  };
  const index = new Map<MergedNode, Map<string, MergedNode>>();
  for (const r of records) {
    perCall.clear();
    add(root, r.root, index);
    for (const [node, cost] of perCall) {
      node.calls++;
      node.maxMs = Math.max(node.maxMs, cost);
    }
  }
  const finish = (m: MergedNode) => {
    m.avgMs = m.totalMs / n;
    m.costMs = m.totalMs;
    m.children.sort((a, b) => b.totalMs - a.totalMs);
    m.children.forEach(finish);
  };
  finish(root);
  return root;
}

/** The merged tree as text, for the CLI: "[total 65 ms · avg 6.5 ms · max 9.1 ms · 10/10 calls] handle". */
export function mergedLines(root: MergedNode, calls: number): string[] {
  const lines = [`merged over ${plural(calls, 'call')}:`];
  const walk = (m: MergedNode, prefix: string, last: boolean, top: boolean) => {
    const at = frameWhere(m);
    lines.push(`${prefix}${top || last ? '`---' : '+---'}[total ${ms(m.totalMs)} · avg ${ms(m.avgMs)} · max ${ms(m.maxMs)} · ${m.calls}/${calls} calls] ` +
      `${frameName(m)}${at ? `  ${at}` : ''}`);
    m.children.forEach((c, i) => walk(c, prefix + (top || last ? '    ' : '|   '), i === m.children.length - 1, false));
  };
  walk(root, '', true, true);
  return lines;
}

/**
 * One tt record line: "#1000  12:14:44.123  0.012 ms  returned  __main__.parse_line"; a replay
 * (`tt -i N -p`) says so: "#1003  12:14:50.001  0.025 ms  raised    replay of #1000  flask.app.Flask.dispatch_request".
 */
export function ttLine(r: TtRecord): string {
  return `#${r.index}  ${clockTime(r.time)}  ${ms(r.costMs).padStart(9)}  ${r.isException ? 'raised  ' : 'returned'}  ` +
    (r.replayOf !== undefined && r.replayOf !== null ? `replay of #${r.replayOf}  ` : '') +
    qualifiedName(r);
}

/** What a tt call raised, on one line and whole: "RuntimeError: Working outside of request context. This …". */
export function ttRaised(d: TtDetail): string | undefined {
  if (!d.isException) return undefined;
  return d.exceptionLine ?? exceptionLine(d.exception) ?? d.exceptionType ?? 'an exception';
}

/** A tt record in full, as labelled rows: the arguments, then the return value, or the exception and its traceback. */
export function ttDetailLines(d: TtDetail): string[] {
  const index = d.replayOf !== undefined && d.replayOf !== null ? `#${d.index} (replay of #${d.replayOf})` : `#${d.index}`;
  const rows: Array<[string, string]> = [
    ['index', index], ['time', clockTime(d.time)], ['cost', ms(d.costMs)],
    ['method', qualifiedName(d)], ['args', d.args], ['kwargs', d.kwargs],
  ];
  if (d.isException) {
    rows.push(['raised', ttRaised(d) ?? '']);
    if (d.exception) rows.push(['traceback', '\n' + d.exception.trimEnd()]);
  } else {
    rows.push(['returned', d.returnValue ?? '']);
  }
  const pad = 10;
  return rows.map(([label, value]) => `${label.padEnd(pad)}${value.replace(/\n/g, '\n' + ' '.repeat(pad))}`)
    .join('\n').split('\n').map((line) => line.trimEnd());
}
