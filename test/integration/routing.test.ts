import assert from 'node:assert/strict';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import type { Session } from '../../src/session/session';
import { SessionManager } from '../../src/session/sessionManager';
import { FIXTURES, startTarget, stopAllTargets, type Target } from '../support/fixtures';

/**
 * Issue 6 "the right process": two real attached targets. A (busy_service.py) imports shop/orders.py,
 * B (lock_contention.py) does not and is attached last — before the fix, every command went to B.
 */
describe('SessionManager routes commands to the right one of several attached processes', function () {
  this.timeout(90_000);
  let a: Target;
  let b: Target;
  let manager: SessionManager;
  const picks: Array<{ pids: number[]; preselected?: number }> = [];
  const noPick = async (candidates: readonly Session[], preselected?: Session) => {
    picks.push({ pids: candidates.map((s) => s.pid), preselected: preselected?.pid });
    return undefined;
  };

  before(async () => {
    [a, b] = await Promise.all([startTarget(['busy_service.py']), startTarget(['lock_contention.py'])]);
    manager = new SessionManager(silentLogger, () => ({ livenessIntervalMs: 0 }));
    await manager.attach(a.pid);
    await manager.attach(b.pid); // attached last, so the chosen one
    // Which files a process imported is only known with the agent (read-only sessions: see below).
    await Promise.all([manager.get(a.pid)!.loadAgent(), manager.get(b.pid)!.loadAgent()]);
  });

  after(async () => {
    await manager?.dispose();
    await stopAllTargets();
  });

  it('a file of A goes to A, although B was attached (and so chosen) last', async () => {
    assert.equal(manager.chosen?.pid, b.pid);
    const route = await manager.route({ file: path.join(FIXTURES, 'shop', 'orders.py'), pick: noPick });
    assert.deepEqual({ pid: route?.session.pid, reason: route?.reason }, { pid: a.pid, reason: 'file' });
    assert.equal(manager.chosen?.pid, b.pid, 'routing by file does not change the choice');
  });

  it('a file of B goes to B; the script each runs is theirs', async () => {
    const route = await manager.route({ file: path.join(FIXTURES, 'lock_contention.py'), pick: noPick });
    assert.deepEqual({ pid: route?.session.pid, reason: route?.reason }, { pid: b.pid, reason: 'file' });
  });

  it('watch from a file of A records calls in A', async () => {
    const file = path.join(FIXTURES, 'shop', 'orders.py');
    const route = await manager.route({ file, pick: noPick });
    const session = route!.session;
    const { module } = await session.call('module', { file });
    const probe = session.startProbe('watch', { module, method: 'total_price', expr: 'return_obj', limit: 2 });
    let records = 0;
    probe.onDidRecord(() => records++);
    const summary = await probe.done;
    assert.equal(probe.pid, a.pid);
    assert.deepEqual({ count: summary.count, reason: summary.reason, records }, { count: 2, reason: 'limit', records: 2 });
  });

  it('without a file (the palette, /diagnose): the user is asked, the current session selected; choosing another changes it', async () => {
    assert.deepEqual(picks, [], 'the file decided every route so far');
    assert.equal(await manager.route({ pick: noPick }), undefined);
    assert.deepEqual(picks.pop(), { pids: [a.pid, b.pid], preselected: b.pid });
    manager.choose(manager.get(a.pid)!);
    const route = await manager.route({ pick: async (_candidates, preselected) => preselected });
    assert.deepEqual({ pid: route?.session.pid, reason: route?.reason }, { pid: a.pid, reason: 'picked' });
  });

  it('a file neither imported: asked too; the one picked then says FILE_NOT_IMPORTED', async () => {
    const file = path.join(FIXTURES, 'plain_sleeper.py');
    const route = await manager.route({ file, pick: async (_candidates, preselected) => preselected });
    assert.deepEqual({ pid: route?.session.pid, reason: route?.reason }, { pid: a.pid, reason: 'picked' });
    await assert.rejects(route!.session.call('module', { file }), { code: 'FILE_NOT_IMPORTED' });
  });
});

describe('routing never loads the agent to answer: read-only sessions are routed by their directories', function () {
  this.timeout(90_000);
  let manager: SessionManager;

  after(async () => {
    await manager?.dispose();
    await stopAllTargets();
  });

  it('two read-only services from one folder: a file that is one\'s script goes to it (command line), a shared one asks; neither got the agent', async () => {
    const [a, b] = await Promise.all([startTarget(['busy_service.py']), startTarget(['lock_contention.py'])]);
    manager = new SessionManager(silentLogger, () => ({ livenessIntervalMs: 0 }));
    await manager.attach(a.pid);
    await manager.attach(b.pid); // the current one
    const offered: Array<{ pids: number[]; preselected?: number }> = [];
    const pick = async (candidates: readonly Session[], preselected?: Session) => {
      offered.push({ pids: candidates.map((s) => s.pid), preselected: preselected?.pid });
      return undefined;
    };
    const script = await manager.route({ file: path.join(FIXTURES, 'busy_service.py'), pick });
    assert.deepEqual({ pid: script?.session.pid, reason: script?.reason }, { pid: a.pid, reason: 'file' });
    assert.deepEqual(offered, [], 'not the current one (b), and nobody asked');
    // shop/orders.py lies under both processes' folder: two still match, so the user is asked.
    assert.equal(await manager.route({ file: path.join(FIXTURES, 'shop', 'orders.py'), pick }), undefined);
    assert.deepEqual(offered, [{ pids: [a.pid, b.pid], preselected: b.pid }]);
    assert.deepEqual(manager.all.map((s) => s.agentLoaded), [false, false]);
  });
});
