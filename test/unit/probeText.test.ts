import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { endText, mergeTraces, mergedLines, recordNoun, threadLabel, traceLines, watchFailure, watchLine, watchSummary } from '../../src/format/probeText';
import type { StreamSummary, TraceRecord, WatchRecord } from '../../src/protocol/helper';

const RECORDED = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded');

/** The JSON lines `pyflight … --json` printed in a real run: records and end summaries, in order. */
function lines(name: string): Array<{ type: 'record' | 'end'; data: any }> {
  return readFileSync(path.join(RECORDED, name), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

describe('probe text (records recorded from records_service.py)', () => {
  const watch = lines('watch-records-service.jsonl');
  const watchRecords = watch.filter((l) => l.type === 'record').map((l) => l.data as WatchRecord);
  const ends = watch.filter((l) => l.type === 'end').map((l) => l.data as StreamSummary);

  it('a watch record reads as a Python call with parameter names and its return value', () => {
    const ok = watchRecords[0];
    assert.match(watchSummary(ok), /^parse_line\(line='k\d+,\d+'\) → \('k\d+', \d+\)$/);
    assert.doesNotMatch(watchSummary(ok), /\{\}|"/);
  });

  it('a raising call shows the exception, not the expression type', () => {
    const raised = watchRecords.find((r) => r.isException)!;
    assert.equal(raised.exceptionType, 'ValueError');
    assert.match(watchSummary(raised), /^parse_line\(line='bad\d+'\) raised ValueError: not enough values to unpack/);
    assert.doesNotMatch(watchLine(raised), /tuple/);
    assert.doesNotMatch(raised.exception!, /flight_profiler|\^\^\^/);
  });

  it('a failing --expr says so and why, in one line, instead of "None"', () => {
    const failed = watchRecords.find((r) => r.expressionError)!;
    assert.equal(watchFailure(failed), "expression failed: NameError: name 'undefined_x' is not defined");
    assert.equal(watchSummary(failed), watchFailure(failed));
    assert.match(watchLine(failed), /✗ expression failed: NameError/);
    assert.doesNotMatch(watchLine(failed), /None/);
  });

  it('end lines say what happened: limit of matching records, or the call budget running out', () => {
    assert.equal(endText(ends[0], recordNoun('watch', {})), '4 of 4 calls · ended: limit 4 reached');
    assert.equal(endText(ends[2], recordNoun('watch', { filter: 'x' })), 'stopped after 300 calls, 0 matched');
    assert.equal(endText({ ...ends[0], matched: 3, limit: 3 }, recordNoun('watch', { exceptionOnly: true })),
      '3 of 3 exceptions · ended: limit 3 reached');
    assert.equal(endText({ ...ends[0], reason: 'exited', matched: 7 }, 'call'), '7 calls · process exited');
  });

  it('a trace whose calls were all faster than -i says so and how to lower it (not "another session stopped it")', () => {
    // The helper's end line for `trace <pid> shop.orders total_price -n 2` on busy_service.py (3.11.7, 2026-12-06).
    const end = { count: 0, limit: 2, matched: 0, callBudget: 2, reason: 'limit' as const, callsSeen: 2, belowInterval: 2, intervalMs: 0.1,
      args: 'shop.orders total_price -i 0.1 -n 2' };
    const text = endText(end, recordNoun('trace', {}));
    assert.equal(text, '0 calls · ended: limit reached; 2 calls were faster than -i 0.1 ms, so not recorded (lower the threshold: -i 0.01, or -i 0 for every call)');
    assert.doesNotMatch(text, /another session/);
    assert.match(endText({ ...end, count: 1, matched: 1, belowInterval: 1, intervalMs: 0.01 }, 'call'), /^1 call · .*1 call was faster than -i 0.01 ms.*-i 0 records every call/);
  });

  const traces = lines('trace-records-service.jsonl').filter((l) => l.type === 'record').map((l) => l.data as TraceRecord);

  it('a trace prints as an indented call tree', () => {
    const text = traceLines(traces[0]);
    assert.match(text[0], /^\d\d:\d\d:\d\d\.\d{3} thread=ingest cost=/);
    assert.match(text[1], /^`---\[[\d.]+ ms 100%\] handle {2}records_service\.py:\d+$/);
    assert.ok(text.some((l) => /^ {4}[+`]---\[[\d.]+ ms \d+%\] parse_line {2}records_service\.py:\d+$/.test(l)), text.join('\n'));
    assert.ok(text.some((l) => /str\.split {2}built-in$/.test(l)));
  });

  it('a trace from a thread the agent cannot name shows its id, never "null"', () => {
    const raw = lines('trace-raw-thread.jsonl')[0].data as TraceRecord;
    assert.equal(raw.thread, null); // as recorded
    assert.equal(threadLabel(raw), `tid ${raw.threadId}`);
    assert.doesNotMatch(traceLines(raw)[0], /null/);
  });

  it('merges the captured calls: total, average and max per child', () => {
    const merged = mergeTraces(traces)!;
    const n = traces.length;
    assert.equal(merged.function, 'handle');
    assert.equal(merged.calls, n);
    const total = traces.reduce((s, t) => s + t.root.costMs, 0);
    assert.ok(Math.abs(merged.totalMs - total) < 1e-9);
    assert.ok(Math.abs(merged.avgMs - total / n) < 1e-9);
    assert.equal(merged.maxMs, Math.max(...traces.map((t) => t.root.costMs)));
    const parse = merged.children.find((c) => c.function === 'parse_line')!;
    const parseCosts = traces.map((t) => t.root.children.filter((c) => c.function === 'parse_line').reduce((s, c) => s + c.costMs, 0));
    assert.ok(Math.abs(parse.totalMs - parseCosts.reduce((a, b) => a + b, 0)) < 1e-9);
    assert.equal(parse.maxMs, Math.max(...parseCosts));
    // `put` is not called for the line without a comma: it ran in fewer calls than were merged.
    const put = merged.children.find((c) => c.function === 'put');
    if (put) assert.equal(put.calls, traces.filter((t) => t.root.children.some((c) => c.function === 'put')).length);
    for (let i = 1; i < merged.children.length; i++) assert.ok(merged.children[i - 1].totalMs >= merged.children[i].totalMs);
    assert.match(mergedLines(merged, n)[1], new RegExp(`^\`---\\[total [\\d.]+ ms · avg [\\d.]+ ms · max [\\d.]+ ms · ${n}/${n} calls\\] handle`));
  });
});
