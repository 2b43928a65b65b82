import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import type { StackResult, ThreadStack } from '../../src/protocol/helper';
import { Session } from '../../src/session/session';
import { CLI, FIXTURES, ROOT, startTarget, stopAllTargets, TEST_OWNER_VAR, RUN_OWNER, type Target } from '../support/fixtures';

// Issue 6: a thread blocked on a lock says which lock (read from its source line, without native
// frames and with them), other waits say what they wait on, and a process whose threads mostly
// run code is told apart from one whose threads wait. Real targets, read-only sessions (no agent).
describe('Stacks: what each thread waits for (real targets)', function () {
  this.timeout(90_000);
  const sessions: Session[] = [];

  async function stacksOf(target: Target, native = false): Promise<StackResult> {
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    return session.call('stack', { native });
  }
  const byName = (result: StackResult, name: string): ThreadStack => {
    const thread = result.threads.find((t) => t.name === name);
    assert.ok(thread, `${name} not in ${result.threads.map((t) => t.name).join(', ')}`);
    return thread;
  };

  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  for (const native of [false, true]) {
    it(`lock_contention.py${native ? ' (native frames)' : ''}: the waiters wait for LOCK at its with line, the holder does not`, async () => {
      const target = await startTarget(['lock_contention.py']);
      const result = await stacksOf(target, native);
      for (const name of ['waiter-1', 'waiter-2', 'waiter-3']) {
        const waiter = byName(result, name);
        assert.equal(waiter.activity, 'blocked', name);
        assert.deepEqual({ ...waiter.blockedOn, heldBy: undefined }, { expression: 'LOCK', file: path.join(FIXTURES, 'lock_contention.py'), line: 17, kind: 'lock', heldBy: undefined });
      }
      const holder = byName(result, 'holder');
      assert.equal(holder.blockedOn, undefined);
      assert.equal(holder.activity, 'sleeping');
      // Inside `with LOCK:` (line 11), so it is the one the waiters wait for.
      assert.deepEqual(holder.holding, [{ expression: 'LOCK', file: path.join(FIXTURES, 'lock_contention.py'), line: 11 }]);
      for (const name of ['waiter-1', 'waiter-2', 'waiter-3']) assert.deepEqual(byName(result, name).blockedOn?.heldBy, ['holder']);
    });
  }

  it('demo/checkout_service.py: workers at `with INVENTORY_LOCK` wait for INVENTORY_LOCK; the refresher holding it does not', async () => {
    const target = await startTarget([path.join(ROOT, 'demo', 'checkout_service.py')]);
    // The demo is a live service: read until a worker is at the `with` line (nearly always at once).
    let result: StackResult | undefined;
    let atWith: ThreadStack[] = [];
    for (let i = 0; i < 10 && atWith.length === 0; i++) {
      result = await stacksOf(target);
      atWith = result.threads.filter((t) => t.frames[0]?.function === 'reserve_inventory' && t.frames[0].line === 47);
    }
    assert.ok(atWith.length > 0, 'no worker waited at checkout_service.py:47 in 10 snapshots');
    for (const worker of atWith) {
      assert.deepEqual({ ...worker.blockedOn, heldBy: undefined }, { expression: 'INVENTORY_LOCK', file: path.join(ROOT, 'demo', 'checkout_service.py'), line: 47, kind: 'lock', heldBy: undefined });
      // Whoever is inside a `with INVENTORY_LOCK:` then is named: the refresher, or a worker past the line.
      for (const name of worker.blockedOn?.heldBy ?? []) {
        const holder = byName(result!, name);
        assert.ok(name === 'price-refresher' || holder.frames.some((f) => f.function === 'reserve_inventory' && f.line !== 47), name);
        assert.equal(holder.holding?.[0].expression, 'INVENTORY_LOCK');
      }
    }
    const others = result!.threads.filter((t) => !atWith.includes(t));
    // (A worker may wait on the ORDERS queue when it is empty: that is not the lock.)
    assert.ok(others.every((t) => t.blockedOn?.kind !== 'lock'), JSON.stringify(others.map((t) => [t.name, t.blockedOn])));
  });

  it('sync_waits.py: RLock.acquire(), `with self._lock`, a Semaphore, a queue, an event, a condition, a join and an idle thread pool say what they wait on', async () => {
    const target = await startTarget(['sync_waits.py']);
    const result = await stacksOf(target);
    const file = path.join(FIXTURES, 'sync_waits.py');
    const expected: Array<[string, string, number, string, string]> = [
      ['rlock-waiter', 'REGISTRY_LOCK', 42, 'lock', 'blocked'],
      ['account-waiter', 'self._lock', 31, 'lock', 'blocked'],
      ['slot-waiter', 'POOL_SLOTS', 46, 'semaphore', 'blocked'],
      ['queue-consumer', 'JOBS', 52, 'queue', 'waiting'],
      ['event-waiter', 'SHUTDOWN', 57, 'event', 'waiting'],
      ['cond-waiter', 'CONFIG_CHANGED', 62, 'condition', 'waiting'],
      ['joiner', 'worker', 66, 'thread', 'waiting'],
    ];
    for (const [name, expression, line, kind, activity] of expected) {
      const thread = byName(result, name);
      assert.equal(thread.activity, activity, name);
      assert.deepEqual({ ...thread.blockedOn, via: undefined, heldBy: undefined, lock: undefined, owner: undefined }, { expression, file, line, kind, via: undefined, heldBy: undefined, lock: undefined, owner: undefined }, name);
    }
    assert.deepEqual(byName(result, 'rlock-waiter').blockedOn?.heldBy, ['registry-holder']);
    assert.deepEqual(byName(result, 'account-waiter').blockedOn?.heldBy, ['account-holder']);
    // `self._lock` is told by its object (py-spy's locals: the address of `self`), the same object on both sides.
    assert.match(byName(result, 'account-waiter').blockedOn?.owner ?? '', /^Account at 0x[0-9a-f]+$/);
    assert.equal(byName(result, 'account-holder').holding?.[0]?.lock, byName(result, 'account-waiter').blockedOn?.lock);
    // An idle ThreadPoolExecutor worker waits on its C SimpleQueue: no Python frame of the queue's.
    const idle = byName(result, 'pool_0');
    assert.equal(idle.activity, 'waiting');
    assert.equal(idle.blockedOn?.expression, 'work_queue');
    assert.equal(idle.blockedOn?.kind, 'queue');
    for (const name of ['registry-holder', 'account-holder', 'MainThread']) assert.equal(byName(result, name).activity, 'sleeping', name);
  });

  it('cpu_workers.py: threads computing count as running, waiting for the GIL too (with and without native frames)', async () => {
    const target = await startTarget(['cpu_workers.py']);
    for (const native of [false, true]) {
      // The main thread sleeps 0.5 s at a time; woken, it waits for the GIL at its `while` line, which is
      // running (a loaded CI run caught it so): it is asleep in most snapshots, so in one of up to five.
      const seen: string[] = [];
      for (let i = 0; i < 5 && seen.at(-1) !== 'sleeping'; i++) {
        const result = await stacksOf(target, native);
        for (const name of ['cruncher-1', 'cruncher-2', 'cruncher-3']) assert.equal(byName(result, name).activity, 'running', `${name} native=${native}`);
        const main = byName(result, 'MainThread');
        seen.push(`${main.activity} at line ${main.frames[0]?.line}`.replace(/^sleeping.*/, 'sleeping'));
      }
      assert.equal(seen.at(-1), 'sleeping', `MainThread native=${native}: ${seen.join('; ')}`);
    }
  });

  it('the CLI text says who waits for which lock, and that one snapshot of busy threads is not a profile', async () => {
    const locks = await startTarget(['lock_contention.py']);
    const busy = await startTarget(['cpu_workers.py']);
    const run = (pid: number) => {
      const r = spawnSync(process.execPath, [CLI, 'stack', String(pid)], { cwd: ROOT, encoding: 'utf8', timeout: 60_000,
        env: { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python'), [TEST_OWNER_VAR]: RUN_OWNER } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const text = run(locks.pid);
    assert.match(text, /^3 threads waiting for LOCK \(.*lock_contention\.py:17\): waiter-\d, waiter-\d, waiter-\d — held by holder$/m);
    assert.match(text, /^Thread \d+ "waiter-1" — waiting for LOCK at .*lock_contention\.py:17$/m);
    assert.match(text, /^Thread \d+ "holder" — sleeping, holds LOCK$/m);
    assert.doesNotMatch(text, /not a profile/);
    assert.match(run(busy.pid), /one snapshot is not a profile/);
  });
});
