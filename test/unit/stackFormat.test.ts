import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { formatFrame, formatStacks, groupIdenticalStacks, heldByText } from '../../src/format/stackFormat';
import type { StackResult } from '../../src/protocol/helper';

const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'stack-busy-service.json'), 'utf8')) as StackResult;

describe('formatStacks (recorded busy_service dump)', () => {
  const text = formatStacks(recorded);

  it('has a header, one block per thread and the async tasks', () => {
    assert.match(text, new RegExp(`^Process ${recorded.pid} — stacks captured \\d{4}-`));
    for (const thread of recorded.threads) assert.ok(text.includes(`Thread ${thread.tid} "${thread.name}"`), thread.name);
    assert.match(text, /Task "inventory-poller" on thread "event-loop" \(WAITING\) poll_inventory/);
    assert.match(text, /\(\d+ profiler agent threads hidden\)/);
  });

  it('lists frames most recent first with file:line', () => {
    const worker = text.split('\n\n').find((block) => block.includes('"request-worker"'))!;
    const frames = worker.split('\n').slice(1).map((l) => l.trim());
    assert.ok(frames.findIndex((f) => f.startsWith('handle_request (')) < frames.findIndex((f) => f.startsWith('request_worker (')));
    assert.match(worker, /request_worker \(.*\/test\/fixtures\/busy_service\.py:34\)/);
  });

  it('formats native frames without a file by their library', () => {
    assert.equal(formatFrame({ function: '_start', file: null, line: null, kind: 'native', library: '/usr/bin/python3.11' }), '_start (/usr/bin/python3.11)');
  });
});

describe('groupIdenticalStacks (recorded demo dump)', () => {
  const demo = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'stack-checkout-demo.json'), 'utf8')) as StackResult;

  it('puts the four workers blocked at the same line in one group, first', () => {
    const groups = groupIdenticalStacks(demo.threads);
    assert.deepEqual(groups[0].threads.map((t) => t.name).sort(), ['http-worker-1', 'http-worker-2', 'http-worker-3', 'http-worker-4']);
    assert.equal(groups[0].frames[0].function, 'reserve_inventory');
    assert.equal(groups.length, demo.threads.length - 3);
    assert.deepEqual(groups.slice(1).map((g) => g.threads[0].name), ['traffic', 'price-refresher', 'MainThread']);
  });

  it('leaves threads with their own stacks alone (busy_service)', () => {
    const groups = groupIdenticalStacks(recorded.threads);
    assert.ok(groups.every((g) => g.threads.length === 1));
    assert.deepEqual(groups.map((g) => g.threads[0].name), recorded.threads.map((t) => t.name));
  });
});

describe('formatStacks: who waits for which lock (recorded lock_contention / cpu_workers dumps)', () => {
  const load = (name: string) => JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', name), 'utf8')) as StackResult;

  it('sums up the threads blocked on each lock, and says it on each thread', () => {
    const text = formatStacks(load('stack-lock-contention.json'));
    assert.match(text, /^3 threads waiting for LOCK \(.*\/lock_contention\.py:17\): waiter-\d, waiter-\d, waiter-\d — held by holder$/m);
    assert.match(text, /^Thread \d+ "waiter-1" — waiting for LOCK at .*\/lock_contention\.py:17$/m);
    assert.match(text, /^Thread \d+ "holder" — sleeping, holds LOCK$/m);
    assert.doesNotMatch(text, /not a profile/);
  });

  it('says one snapshot is not a profile when most threads run code', () => {
    assert.match(formatStacks(load('stack-cpu-workers.json')), /^Most threads are running code: one snapshot is not a profile\./m);
  });
});

describe('heldByText: who a waiting thread waits for (recorded stuck_producer.py dump)', () => {
  it('a consumer of a queue nobody holds is "fed by" its producer; a lock waiter is "held by" its holder', () => {
    const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'stack-stuck-producer.json'), 'utf8')) as StackResult;
    const indexer = recorded.threads.find((t) => t.name === 'indexer-0')!;
    assert.equal(heldByText(indexer.blockedOn), 'fed by feed-pump');
    assert.equal(heldByText({ expression: 'LOCK', file: 'a.py', line: 1, kind: 'lock', heldBy: ['holder'], fedBy: ['x'] }), 'held by holder');
    assert.equal(heldByText(recorded.threads.find((t) => t.name === 'MainThread')!.blockedOn), '');
  });
});
