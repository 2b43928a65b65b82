import assert from 'node:assert/strict';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import type { Session } from '../../src/session/session';
import { pyflightJson, useAttachedService, useForeignHelper } from '../support/attached';
import { helpersOwnedBy, isRunning, TEST_OWNER_VAR, waitUntilGone, type Target } from '../support/fixtures';

const LEAK = '__main__.LeakyCacheEntry';

/** Agent threads still inside a heap walk: flight-profiler's `diff_mem` (pympler) or PyFlight's census. */
async function agentDiffsRunning(session: Session): Promise<number> {
  const stacks = await session.call('stack', { includeAgentThreads: true });
  return stacks.threads.filter((t) => t.frames.some((f) => /diff_mem/.test(f.function) || /census\.py$/.test(f.file ?? ''))).length;
}

const pyflight = (args: string[]) => pyflightJson(args, 'mem-cli');

describe('memory: mem summary (pympler) / mem diff (the census) through the agent (leaky_service.py)', function () {
  this.timeout(90_000);
  useForeignHelper();
  const attached = useAttachedService(['leaky_service.py']);
  let service: Target;
  let session: Session;
  before(() => ({ service, session } = attached));

  it('a diff names the leaking class at the top, after saying the agent waits', async () => {
    const waited: number[] = [];
    const diff = await session.call('memDiff', { interval: 3, limit: 10 }, { onWaiting: (s) => waited.push(s) });
    assert.deepEqual(waited, [3]);
    assert.equal(session.agentLoaded, true, 'the agent was loaded on demand');
    assert.equal(diff.kind, 'diff');
    assert.equal(diff.intervalSeconds, 3);
    assert.equal(diff.engine, 'census');
    assert.ok(diff.rows.length <= 10 && diff.rows.length > 1);
    assert.equal(diff.rows[0].type, LEAK, JSON.stringify(diff.rows.slice(0, 4)));
    assert.ok(diff.rows[0].count > 0 && diff.rows[0].size > 0);
    // Changed types only: list and str no longer grow by a snapshot of the walk's own.
    assert.ok(diff.rows.every((r) => r.count !== 0 || r.size !== 0 || (r.owned ?? 0) !== 0));
    assert.equal(diff.args, 'diff --interval 3 --limit 10 --order growth');
    assert.equal(diff.containers?.find((c) => c.path === '__main__.SESSION_CACHE')?.holds, LEAK);
  });

  it('a summary lists the biggest types by size, with the cache among them', async () => {
    const summary = await session.call('memSummary', { limit: 25 });
    assert.equal(summary.kind, 'summary');
    assert.equal(summary.rows.length, 25);
    const sizes = summary.rows.map((r) => r.size);
    assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a));
    const leak = summary.rows.find((r) => r.type === LEAK);
    assert.ok(leak && leak.count > 0, JSON.stringify(summary.rows.slice(0, 5)));
    const smallest = await session.call('memSummary', { limit: 3, order: 'ascending' });
    assert.ok(smallest.rows.every((r) => r.size <= summary.rows[summary.rows.length - 1].size));
  });

  it('bad options are refused before the agent sees them', async () => {
    await assert.rejects(session.call('memDiff', { interval: 0 }), (e: PyFlightError) => e.code === ErrorCode.BadArgument);
    await assert.rejects(session.call('memSummary', { order: 'sideways' as 'ascending' }), (e: PyFlightError) => e.code === ErrorCode.BadArgument);
  });

  it('cancelling a diff between its censuses returns at once, leaves nothing in the agent, and the target keeps running normally', async () => {
    const stop = new AbortController();
    const cancelled = session.call('memDiff', { interval: 15, limit: 5 }, { signal: stop.signal, onWaiting: () => stop.abort() });
    const error: PyFlightError = await cancelled.then(() => assert.fail('the diff was not cancelled'), (e: PyFlightError) => e);
    assert.equal(error.code, ErrorCode.Cancelled);
    assert.match(error.message, /^Memory diff cancelled between its two censuses\.$/);
    assert.match(error.hint ?? '', /runs normally; nothing stays in it/);
    // Unlike pympler's diff (which slept on in the agent, then walked the heap again), nothing is left running.
    assert.equal(await agentDiffsRunning(session), 0, 'the agent is still inside a heap walk');
    // Meanwhile the process and the agent serve other requests, and the leak keeps growing.
    const first = await session.call('memSummary', { limit: 30 });
    const second = await session.call('memSummary', { limit: 30 });
    const count = (s: typeof first) => s.rows.find((r) => r.type === LEAK)?.count ?? 0;
    assert.ok(count(second) > count(first), 'the target did not keep running');
    const stacks = await session.call('stack', {});
    assert.ok(stacks.threads.some((t) => t.name === 'request-loop' && t.frames.some((f) => f.function === 'request_loop')));
    assert.equal(session.state, 'ready');
    assert.ok(isRunning(service.pid));
  });

  it('pyflight mem diff --json and mem summary --json', () => {
    const diff = pyflight(['mem', 'diff', String(service.pid), '--interval', '3', '--limit', '5', '--halves']);
    assert.equal(diff.status, 0, JSON.stringify(diff.json));
    assert.equal(diff.json.pid, service.pid);
    assert.equal(diff.json.kind, 'diff');
    assert.equal(diff.json.rows[0].type, LEAK);
    // --halves: a census halfway (the heap is small: it fits in the wait), the leak grew in the first half too
    assert.equal(diff.json.halves, true, JSON.stringify(diff.json.middleSkipped));
    assert.equal(diff.json.census.length, 3);
    assert.ok(diff.json.rows[0].firstHalf.count > 0, JSON.stringify(diff.json.rows[0]));
    assert.match(diff.stderr, /first census: \d+ %/);
    assert.match(diff.stderr, /first census taken; the middle one in \d+ s/);
    assert.match(diff.stderr, /middle census taken; the second in \d+ s/);
    assert.deepEqual(helpersOwnedBy(diff.owner), [], 'helper outlived the CLI');
    const summary = pyflight(['mem', 'summary', String(service.pid), '--limit', '40', '--order', 'descending']);
    assert.equal(summary.status, 0, JSON.stringify(summary.json));
    assert.equal(summary.json.rows.length, 40);
    assert.ok(summary.json.rows.some((r: { type: string }) => r.type === LEAK));
    const bad = pyflight(['mem', 'summary', String(service.pid), '--order', 'size']);
    assert.equal(bad.status, 2);
    assert.equal(bad.json.error.code, 'BAD_ARGUMENT');
  });

  it('no heap walk is left running in the agent, and the helper goes with the session', async () => {
    let left = 1;
    for (let i = 0; i < 60 && left; i++) {
      left = await agentDiffsRunning(session);
      if (left) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(left, 0, 'the agent is still in diff_mem');
    assert.ok(isRunning(service.pid));
    await session.detach();
    assert.deepEqual(await waitUntilGone(() => helpersOwnedBy(process.env[TEST_OWNER_VAR]!).filter((p) => p === session.helperPid)), []);
  });
});
