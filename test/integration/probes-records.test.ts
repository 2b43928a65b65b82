import assert from 'node:assert/strict';
import { silentLogger } from '../../src/common/logger';
import type { TraceRecord, TtRecord, WatchRecord } from '../../src/protocol/helper';
import { Session } from '../../src/session/session';
import { useAttachedService } from '../support/attached';
import { startTarget, stopAllTargets } from '../support/fixtures';

function collect<T>(probe: { onDidRecord: (l: (r: T) => void) => unknown }): T[] {
  const records: T[] = [];
  probe.onDidRecord((r) => records.push(r));
  return records;
}

/** records_service.py: parse_line raises in one call of four, every 10 ms. */
describe('records tell the truth (records_service.py, real agent)', function () {
  this.timeout(90_000);
  const attached = useAttachedService(['records_service.py'], { livenessIntervalMs: 0 });
  let session: Session;
  before(() => ({ session } = attached));

  it('watch -e -n 3 gives 3 exceptions, although only one call in four raises', async () => {
    const probe = session.startProbe('watch', { module: '__main__', method: 'parse_line', exceptionOnly: true, limit: 3 });
    const records = collect<WatchRecord>(probe);
    const summary = await probe.done;
    assert.equal(records.length, 3);
    assert.ok(records.every((r) => r.isException));
    assert.deepEqual({ reason: summary.reason, count: summary.count, matched: summary.matched, limit: summary.limit },
      { reason: 'limit', count: 3, matched: 3, limit: 3 });
    assert.equal(summary.callBudget, 300);
  });

  it('watch -f -n 5 gives 5 matching calls', async () => {
    const probe = session.startProbe('watch', { module: '__main__', method: 'parse_line', filter: 'args[0].startswith("bad")', expr: 'args[0]', limit: 5 });
    const records = collect<WatchRecord>(probe);
    const summary = await probe.done;
    assert.equal(records.length, 5);
    for (const r of records) assert.match(r.value!, /bad\d+/);
    assert.equal(summary.reason, 'limit');
  });

  it('a filter that matches too rarely ends by the call budget, and says so', async () => {
    const probe = session.startProbe('watch', { module: '__main__', method: 'parse_line', filter: 'args[0] == "never"', limit: 1 });
    const summary = await probe.done;
    assert.deepEqual({ reason: summary.reason, calls: summary.calls, matched: summary.matched }, { reason: 'calls', calls: 100, matched: 0 });
  });

  it('without a filter -n is the agent\'s own call bound', async () => {
    const probe = session.startProbe('watch', { module: '__main__', method: 'parse_line', limit: 4 });
    const summary = await probe.done;
    assert.deepEqual({ reason: summary.reason, count: summary.count, budget: summary.callBudget }, { reason: 'limit', count: 4, budget: 4 });
  });

  it('records read as Python: named arguments, return value, exception type, traceback from user code', async () => {
    const probe = session.startProbe('watch', { module: '__main__', method: 'parse_line', limit: 8 });
    const records = collect<WatchRecord>(probe);
    await probe.done;
    const ok = records.find((r) => !r.isException)!;
    assert.match(ok.arguments!, /^line='k\d+,\d+'$/);
    assert.match(ok.returned!, /^\('k\d+', \d+\)$/);
    const raised = records.find((r) => r.isException)!;
    assert.match(raised.arguments!, /^line='bad\d+'$/);
    assert.equal(raised.returned, null);
    assert.equal(raised.exceptionType, 'ValueError');
    assert.match(raised.exception!, /^Traceback \(most recent call last\):\n {2}File ".*records_service\.py", line \d+, in parse_line\n/);
    assert.doesNotMatch(raised.exception!, /flight_profiler|wrapped|\^/);
  });

  it('methods: self is left out, keyword arguments keep their names', async () => {
    const probe = session.startProbe('watch', { module: '__main__', class: 'Store', method: 'put', limit: 1 });
    const records = collect<WatchRecord>(probe);
    await probe.done;
    assert.match(records[0].arguments!, /^key='k\d+', value=\d+, replace=False$/);
    assert.match(records[0].returned!, /^\d+$/);
  });

  it('a failing --expr is reported as failed, with the reason on one line', async () => {
    const probe = session.startProbe('watch', { module: '__main__', method: 'parse_line', expr: 'args[5]', limit: 1 });
    const records = collect<WatchRecord>(probe);
    await probe.done;
    assert.equal(records[0].expressionErrorLine, 'IndexError: tuple index out of range');
    assert.doesNotMatch(records[0].expressionError!, /flight_profiler/);
  });

  it('trace -et counts the calls it saw; tt -f records matching calls only', async () => {
    const trace = session.startProbe('trace', { module: '__main__', method: 'handle', entranceTimeMs: 10_000, limit: 1 });
    const traced = collect<TraceRecord>(trace);
    const summary = await trace.done;
    assert.equal(traced.length, 0);
    assert.deepEqual({ reason: summary.reason, calls: summary.calls, seen: summary.callsSeen }, { reason: 'calls', calls: 100, seen: 100 });
    const tt = session.startProbe('ttRecord', { module: '__main__', method: 'parse_line', filter: 'args[0].startswith("bad")', limit: 2 });
    const recorded = collect<TtRecord>(tt);
    const ttSummary = await tt.done;
    assert.equal(recorded.length, 2);
    assert.ok(recorded.every((r) => r.isException));
    assert.equal(ttSummary.reason, 'limit');
    await session.call('ttDelete', { all: true });
  });

  it('a trace of a function faster than -i ends at its limit and counts the calls under the threshold', async () => {
    // STORE.put is a dict store and a len(): microseconds, under the default -i 0.1 ms.
    const trace = session.startProbe('trace', { module: '__main__', class: 'Store', method: 'put', intervalMs: 1000, limit: 3 });
    const traced = collect<TraceRecord>(trace);
    const summary = await trace.done;
    assert.equal(traced.length, 0);
    assert.deepEqual({ reason: summary.reason, seen: summary.callsSeen, below: summary.belowInterval, interval: summary.intervalMs },
      { reason: 'limit', seen: 3, below: 3, interval: 1000 });
  });
});

describe('a target that exits during a live watch', function () {
  this.timeout(90_000);
  after(stopAllTargets);

  it('ends the stream with reason "exited"', async () => {
    const doomed = await startTarget(['records_service.py']);
    const session = new Session(doomed.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await session.attach();
    try {
      const probe = session.startProbe('watch', { module: '__main__', method: 'parse_line', expr: 'args', limit: 100_000 });
      await new Promise<void>((resolve) => probe.onDidRecord(() => resolve()));
      doomed.child.kill('SIGKILL');
      const summary = await probe.done;
      assert.equal(summary.reason, 'exited');
      assert.ok(summary.count >= 1);
    } finally {
      await session.detach();
    }
  });
});
