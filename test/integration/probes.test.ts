import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ErrorCode } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import type { TraceNode, TraceRecord, TtRecord, WatchRecord } from '../../src/protocol/helper';
import { Session } from '../../src/session/session';
import { useAttachedService } from '../support/attached';
import { FIXTURES, type Target } from '../support/fixtures';

const ORDERS_PY = path.join(FIXTURES, 'shop', 'orders.py');

function collect<T>(probe: { onDidRecord: (l: (r: T) => void) => unknown }): T[] {
  const records: T[] = [];
  probe.onDidRecord((r) => records.push(r));
  return records;
}

/** Where the function's code object comes from: the original file, or flight-profiler's wrapper. */
async function codeFile(session: Session, module: string, field: string): Promise<string> {
  return (await session.getglobal({ module, field, expr: 'target.__code__.co_filename', raw: true })).value;
}

describe('watch / trace / tt against a real target', function () {
  this.timeout(60_000);
  const attached = useAttachedService(['busy_service.py'], { livenessIntervalMs: 0 });
  let service: Target;
  let session: Session;
  before(() => ({ service, session } = attached));

  it('watch streams args and return values, then ends by its limit', async () => {
    const probe = session.startProbe('watch', { module: 'shop.orders', method: 'total_price', expr: 'args, return_obj', limit: 3 });
    const records = collect<WatchRecord>(probe);
    const summary = await probe.done;
    assert.deepEqual({ count: summary.count, reason: summary.reason }, { count: 3, reason: 'limit' });
    assert.equal(records.length, 3);
    for (const r of records) {
      assert.equal(r.isException, false);
      assert.equal(r.type, "<class 'tuple'>");
      assert.match(r.value!.replace(/\s+/g, ''), /^\(\(\[1,2,3\]\),6\)$/);
      assert.ok(r.costMs >= 0 && r.costMs < 1000);
      assert.equal(r.method, 'shop.orders.total_price');
    }
    assert.equal(probe.state, 'ended');
    assert.equal(await codeFile(session, 'shop.orders', 'total_price'), `'${ORDERS_PY}'`);
  });

  it('watch -e reports only calls that raised, with the exception', async () => {
    const probe = session.startProbe('watch', { module: 'shop.orders', method: 'restock', exceptionOnly: true, limit: 6 });
    const records = collect<WatchRecord>(probe);
    await probe.done;
    assert.ok(records.length >= 1, 'no exception recorded');
    for (const r of records) {
      assert.equal(r.isException, true);
      const quantity = Number(/ValueError: cannot restock (\d+) units/.exec(r.exception ?? '')?.[1]);
      assert.equal(quantity % 3, 0, r.exception ?? 'no exception text');
    }
  });

  it('watch -f filters on arguments', async () => {
    const probe = session.startProbe('watch', { module: 'shop.orders', method: 'restock', filter: 'args[0] % 2 == 0', expr: 'args[0]', limit: 6 });
    const records = collect<WatchRecord>(probe);
    await probe.done;
    assert.ok(records.length >= 1);
    for (const r of records) assert.equal(Number(r.value) % 2, 0, `odd quantity recorded: ${r.value}`);
  });

  it('bad locations and expressions fail with specific codes before anything is installed', async () => {
    await assert.rejects(session.startProbe('watch', { module: 'shop.orders', method: 'no_such' }).done, { code: ErrorCode.BadLocation, message: /No method named no_such/ });
    // Refused by the agent itself, before flight-profiler could import it (its top-level code would run).
    await assert.rejects(session.startProbe('watch', { module: 'shop.nowhere', method: 'f' }).done,
      { code: ErrorCode.ModuleNotFound, message: /Module shop\.nowhere is not imported in process \d+/ });
    await assert.rejects(session.startProbe('watch', { module: 'shop.orders', method: 'restock', expr: 'args[' }).done, { code: ErrorCode.BadExpression });
    await assert.rejects(session.startProbe('watch', { module: 'shop orders', method: 'restock' }).done, { code: ErrorCode.BadLocation });
    await assert.rejects(session.startProbe('watch', { module: 'shop.orders', method: 'restock', expand: 9 }).done, { code: ErrorCode.BadArgument });
  });

  it('stopping a watch removes the probe: the code object is the original again', async () => {
    const probe = session.startProbe('watch', { module: 'shop.orders', method: 'restock', limit: 1000 });
    await new Promise<void>((resolve) => probe.onDidRecord(() => resolve()));
    assert.notEqual(await codeFile(session, 'shop.orders', 'restock'), `'${ORDERS_PY}'`, 'watch did not instrument');
    probe.stop();
    const summary = await probe.done;
    assert.equal(summary.reason, 'stopped');
    assert.equal(await codeFile(session, 'shop.orders', 'restock'), `'${ORDERS_PY}'`);
    assert.deepEqual(session.probes, []);
  });

  it('a probe stopped while it is being put in place, or the moment it is, ends and leaves the code as it was, every time', async () => {
    // flight-profiler's agents say "spy added" before they record the probe, so an `off` that comes
    // before or in between finds nothing. The helper sends `off` until the stream ends; before, a Stop
    // in that window left the wrapper in place and the probe running for good (an e2e Stop of an
    // all-workers watch whose new worker was still installing never ended). Stops are spread over the window.
    const kinds = [
      () => session.startProbe('watch', { module: 'shop.orders', method: 'restock', limit: 1000 }),
      () => session.startProbe('trace', { module: 'shop.orders', method: 'restock', limit: 1000 }),
      () => session.startProbe('ttRecord', { module: 'shop.orders', method: 'restock', limit: 1000 }),
    ];
    for (const delayMs of [0, 2, 5, 10, 20, 40, 80, 160, 'running'] as const) {
      for (const start of kinds) {
        const probe = start();
        if (delayMs === 'running') {
          const stopWhenRunning = probe.onDidChange(() => { if (probe.state === 'running') { stopWhenRunning.dispose(); probe.stop(); } });
        } else {
          setTimeout(() => probe.stop(), delayMs);
        }
        const bound = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${probe.method} stopped after ${delayMs} ms did not end in 30 s`)), 30_000));
        const summary = await Promise.race([probe.done.catch((e: Error) => ({ reason: `failed: ${e.message}` })), bound]);
        assert.ok(['stopped', 'limit'].includes(summary.reason) || /failed: .*(cancel|stopped)/i.test(summary.reason), JSON.stringify(summary));
        assert.equal(await codeFile(session, 'shop.orders', 'restock'), `'${ORDERS_PY}'`, `${probe.method}, stopped after ${delayMs} ms`);
      }
    }
    assert.deepEqual(session.probes, []);
  });

  it('killing the helper mid-watch still leaves no probe behind', async () => {
    const doomed = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await doomed.attach();
    const probe = doomed.startProbe('watch', { module: 'shop.orders', method: 'total_price', limit: 1000 });
    await new Promise<void>((resolve) => probe.onDidRecord(() => resolve()));
    assert.notEqual(await codeFile(session, 'shop.orders', 'total_price'), `'${ORDERS_PY}'`);
    process.kill(doomed.helperPid!, 'SIGKILL');
    await assert.rejects(probe.done, { code: ErrorCode.HelperCrashed });
    await doomed.probesCleanedUp;
    assert.equal(await codeFile(session, 'shop.orders', 'total_price'), `'${ORDERS_PY}'`);
  });

  it('trace gives the call tree with costs, builtins marked', async () => {
    const probe = session.startProbe('trace', { module: '__main__', method: 'handle_request', limit: 1 });
    const records = collect<TraceRecord>(probe);
    await probe.done;
    const root = records[0].root;
    assert.equal(root.function, 'handle_request');
    assert.equal(root.file, path.join(FIXTURES, 'busy_service.py'));
    assert.ok(root.costMs >= 50, `cost ${root.costMs}`);
    const names = root.children.map((c: TraceNode) => c.function);
    assert.ok(names.includes('compute_checksum') && names.includes('sleep'), names.join(','));
    assert.equal(root.children.find((c) => c.function === 'sleep')!.builtin, true);
    assert.equal(records[0].thread, 'request-worker');
  });

  it('a trace filter that raises does not break the traced function (upstream bug worked around)', async () => {
    const probe = session.startProbe('trace', { module: 'shop.orders', method: 'total_price', intervalMs: 0, filter: 'undefined_name > 1', limit: 2 });
    // With a filter the agent's call budget is 100 × the limit (records are counted by the helper):
    // let a few calls (one per 200 ms) go through the failing filter, then stop.
    await new Promise<void>((resolve) => probe.onDidChange(() => { if (probe.state === 'running') resolve(); }));
    await new Promise((r) => setTimeout(r, 1000));
    probe.stop();
    const summary = await probe.done;
    assert.equal(summary.count, 0);
    const check = session.startProbe('watch', { module: 'shop.orders', method: 'total_price', expr: 'return_obj', limit: 1 });
    const records = collect<WatchRecord>(check);
    await check.done;
    assert.equal(records[0].value, '6');
    assert.doesNotMatch(service.output(), /name 'Message' is not defined/);
  });

  it('tt records calls, lists, shows, replays and deletes them', async () => {
    const probe = session.startProbe('ttRecord', { module: 'shop.orders', method: 'restock', limit: 3 });
    const records = collect<TtRecord>(probe);
    await probe.done;
    assert.equal(records.length, 3);
    const listed = (await session.call('ttList', {})).records.map((r) => r.index);
    for (const r of records) assert.ok(listed.includes(r.index));
    const first = records.find((r) => r.isReturn)!;
    const detail = await session.call('ttDetail', { index: first.index });
    assert.match(detail.args, /\d+/);
    const replay = await session.call('ttReplay', { index: first.index });
    assert.notEqual(replay.index, first.index);
    assert.equal(replay.args, detail.args);
    assert.equal(replay.returnValue, detail.returnValue);
    await assert.rejects(session.call('ttDetail', { index: 5 }), { code: ErrorCode.BadArgument, message: /Couldn't find index for 5/ });
    assert.match((await session.call('ttDelete', { all: true })).message, /All time fragments are deleted/);
    assert.deepEqual((await session.call('ttList', {})).records, []);
  });
});
