import assert from 'node:assert/strict';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { ProbeStore } from '../../src/probes/probeStore';
import type { Session } from '../../src/session/session';
import { SessionManager } from '../../src/session/sessionManager';
import { FIXTURES, startTarget, stopAllTargets, type Target } from '../support/fixtures';

/**
 * Issue 6 "Structure": the ProbeStore (what the Watch / Trace / Time Tunnel views, CodeLens and the
 * status bar read) hears of probes from the sessions, not from the editor command that started
 * them, so a probe started by any code holding a Session (CLI engine, chat, a diagnosis) shows.
 */
describe('ProbeStore follows the SessionManager: probes started on a Session, no command', function () {
  this.timeout(60_000);
  let target: Target;
  let manager: SessionManager;
  let session: Session;
  let store: ProbeStore;

  before(async () => {
    target = await startTarget(['busy_service.py']);
    manager = new SessionManager(silentLogger, () => ({ livenessIntervalMs: 0 }));
    store = new ProbeStore(() => 100, 0);
    store.follow(manager); // as extension.ts wires it
    session = await manager.attach(target.pid);
  });

  after(async () => {
    store?.dispose();
    await manager?.dispose();
    await stopAllTargets();
  });

  it('a watch started with session.startProbe is in the store, with every record and its source', async () => {
    const source = { file: path.join(FIXTURES, 'shop', 'orders.py'), line: 1 };
    const changes: unknown[] = [];
    store.onDidChange((e) => changes.push(e));
    const probe = session.startProbe('watch', { module: 'shop.orders', method: 'total_price', expr: 'args, return_obj', limit: 3 }, { source });
    const entry = store.entryOf(probe);
    assert.ok(entry, 'the store has the probe as soon as startProbe returns');
    assert.deepEqual(store.of('watch').map((e) => e.probe), [probe]);
    assert.equal(entry.session, session);
    assert.deepEqual(entry.source, source);
    const summary = await probe.done;
    assert.equal(summary.count, 3);
    assert.equal(entry.records.length, 3, 'records arrive in the store without anyone forwarding them');
    assert.ok(entry.records.every((r) => r.method === 'shop.orders.total_price'));
    assert.ok(entry.lastCostMs !== undefined && entry.maxCostMs !== undefined);
    assert.equal(store.active.length, 0);
    assert.ok(changes.length > 0, 'the views were told');
  });

  it('a trace and a tt recording land in their own kinds', async () => {
    const trace = session.startProbe('trace', { module: '__main__', method: 'handle_request', limit: 2 });
    await trace.done;
    const tt = session.startProbe('ttRecord', { module: 'shop.orders', method: 'total_price', limit: 2 });
    await tt.done;
    assert.deepEqual(store.of('trace').map((e) => [e.probe, e.records.length, e.source]), [[trace, 2, undefined]]);
    assert.deepEqual(store.of('ttRecord').map((e) => [e.probe, e.records.length]), [[tt, 2]]);
    assert.equal(store.of('watch').length, 1);
  });
});
