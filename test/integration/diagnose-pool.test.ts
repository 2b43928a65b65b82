import assert from 'node:assert/strict';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { diagnose } from '../../src/diagnose/engine';
import { Session } from '../../src/session/session';
import { FIXTURES, startTarget, stopAllTargets } from '../support/fixtures';
import { waitFor } from '../support/servers';

// Issue 20, item 6: threads that all wait on one semaphore or pool are one finding, which names the
// threads holding its permits (between acquire and release: a semaphore has no owner) and what they
// do meanwhile, the waiters as evidence. pool_service.py: six request threads, two permits, a slow
// remote call made while holding one.
describe('diagnose: a semaphore or pool that every thread waits on is one finding, holders first', function () {
  this.timeout(120_000);
  const sessions: Session[] = [];
  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  it('pool_service.py executor, "quotes hang": the saturated pool\'s workers asleep in call_pricing_service, the requesters as evidence', async () => {
    const target = await startTarget(['pool_service.py', 'executor']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const report = await diagnose(session, 'quotes hang', { budgetSeconds: 10 });
    const first = report.findings[0];
    assert.match(first.title, /^The pricing thread pool is saturated: its 2 workers are all sleeping in call_pricing_service \(pool_service\.py:\d+\); 6 threads wait for results$/,
      report.findings.map((f) => f.title).join('\n'));
    assert.equal(first.location?.function, 'call_pricing_service');
    assert.ok(first.evidence.some((e) => /^Waiting in Future\.result\(\) meanwhile: up to 6 at once/.test(e)), first.evidence.join('\n'));
    assert.ok(!report.findings.slice(1).some((f) => /request-\d|pricing_\d/.test(f.title)), report.findings.map((f) => f.title).join('\n'));
    assert.equal(report.summary, `${first.title}.`);
  });

  it('pool_service.py semaphore, "batches take far longer than they should": no torch in the process, so not the torch playbook; the holders first', async () => {
    const target = await startTarget(['pool_service.py', 'semaphore']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const steps: string[] = [];
    const report = await diagnose(session, 'the enrichment job crawls, batches take far longer than they should', { budgetSeconds: 12 }, (s) => steps.push(s));
    assert.equal(report.kind, 'slow', report.routedBy);
    assert.ok(steps.includes('The words sound like a model, but the process has not imported torch: the other kinds apply.'), steps.join('\n'));
    assert.equal(report.findings[0].about, 'pool', report.findings.map((f) => f.title).join('\n'));
    assert.match(report.findings[0].title, /hold the permits of UPSTREAM_SLOTS while sleeping in call_pricing_service/);
  });

  it('pool_service.py member, "quotes hang": a semaphore named through self (with self._slots:) has its holders too (judge 7)', async () => {
    const target = await startTarget(['pool_service.py', 'member']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const report = await diagnose(session, 'quotes hang', { budgetSeconds: 10 });
    const first = report.findings[0];
    assert.match(first.title, /^(request-\d and request-\d|2 threads at a time) hold the permits of self\._slots while sleeping in call_pricing_service \(pool_service\.py:\d+\); 4 threads wait for a permit$/,
      report.findings.map((f) => f.title).join('\n'));
    assert.equal(first.location?.function, 'PricingClient.quote');
    assert.ok(!report.findings.some((f) => /did not move/.test(f.title)), report.findings.map((f) => f.title).join('\n'));
  });

  it('stuck_producer.py, "nothing gets indexed": the producer stuck in recv first, its three consumers as evidence (judge 6)', async () => {
    const target = await startTarget(['stuck_producer.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const report = await diagnose(session, 'the indexer is stuck, nothing gets indexed', { budgetSeconds: 10 });
    assert.equal(report.kind, 'hang', report.routedBy);
    const first = report.findings[0];
    assert.match(first.title, /^feed-pump, the thread that puts into self\.batches, is stuck waiting in \S*recv in FeedReader\.read_batch \(stuck_producer\.py:\d+\); 3 threads wait on self\.batches for it$/,
      report.findings.map((f) => f.title).join('\n'));
    assert.equal(first.severity, 'high');
    assert.deepEqual([first.location?.function, first.location?.file], ['FeedReader.read_batch', path.join(FIXTURES, 'stuck_producer.py')]);
    assert.ok(first.evidence.some((e) => /^Waiting on self\.batches at stuck_producer\.py:\d+ in Queue\.get: up to 3 at once \(indexer-/.test(e)), first.evidence.join('\n'));
    assert.ok(!report.findings.slice(1).some((f) => /indexer-\d|feed-pump/.test(f.title)), report.findings.map((f) => f.title).join('\n'));
    assert.equal(report.summary, `${first.title}.`);
  });

  it('stuck_producer.py renamed: the producer was handed the queue under another name (self.out): named as probably its producer (judge 7)', async () => {
    const target = await startTarget(['stuck_producer.py', 'renamed']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const report = await diagnose(session, 'the indexer is stuck, nothing gets indexed', { budgetSeconds: 10 });
    assert.match(report.findings[0].title, /^feed-pump, probably the producer of self\.batches \(FeedPump\.forward puts into self\.out\), is stuck waiting in \S*recv in FeedReader\.read_batch/,
      report.findings.map((f) => f.title).join('\n'));
    assert.match(report.findings[0].evidence[0], /its calls: FeedPump\.run → FeedReader\.read_batch\.$/);
  });

  it('session_lock.py: a lock held around the yield of a @contextmanager has its holder — the thread inside `with gateway.session():` (judge 8)', async () => {
    const target = await startTarget(['session_lock.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const report = await diagnose(session, 'the workers hang', { budgetSeconds: 10 });
    const first = report.findings[0];
    assert.match(first.title, /^(worker-\d|\d threads in turn) holds? self\._lock while in Connection\.query \(sleeping\); 3 threads wait for it$/, report.findings.map((f) => f.title).join('\n'));
    assert.match(first.evidence[0], /inside `with gateway\.session\(\):` \(session_lock\.py:\d+\), whose generator holds self\._lock around its yield/);
    assert.ok(!report.findings.some((f) => /did not move/.test(f.title)), report.findings.map((f) => f.title).join('\n'));
  });

  for (const [mode, what, take] of [['semaphore', 'permits of UPSTREAM_SLOTS', 'UPSTREAM_SLOTS\\.acquire\\(\\)'], ['queue', 'items taken from CONNECTIONS', 'CONNECTIONS\\.get\\(\\)']] as const) {
    it(`pool_service.py ${mode}, "quotes hang": the holders asleep in call_pricing_service, then the waiters`, async () => {
      const target = await startTarget(['pool_service.py', mode]);
      const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
      sessions.push(session);
      await session.attach();
      const report = await diagnose(session, 'quotes hang', { budgetSeconds: 10 });
      assert.equal(report.kind, 'hang');
      const first = report.findings[0];
      // Which two threads hold the permits changes every second; two hold them at a time.
      assert.match(first.title, new RegExp(`^(request-\\d and request-\\d|2 threads at a time) hold the ${what} while sleeping in call_pricing_service \\(pool_service\\.py:\\d+\\); 4 threads wait for (a permit|one)$`),
        report.findings.map((f) => f.title).join('\n'));
      assert.equal(first.about, 'pool');
      assert.equal(first.location?.function, mode === 'queue' ? 'quote_pooled' : 'quote');
      assert.equal(first.location?.file, path.join(FIXTURES, 'pool_service.py'));
      assert.match(first.evidence[0], new RegExp(`between ${take} \\(pool_service\\.py:\\d+\\) and its`));
      assert.ok(first.evidence.some((e) => /^Waiting for \w+ at pool_service\.py:\d+: up to 4 at once \(request-\d/.test(e)), first.evidence.join('\n'));
      // One finding for the pool: the waiters are its evidence, not findings of their own.
      assert.ok(!report.findings.slice(1).some((f) => /request-\d did not move|UPSTREAM_SLOTS|CONNECTIONS/.test(f.title)), report.findings.map((f) => f.title).join('\n'));
      assert.equal(report.summary, `${first.title}.`);
      assert.ok(first.next_steps.some((s) => s.includes(`pyflight trace ${target.pid} __main__ call_pricing_service`)), first.next_steps.join('\n'));
    });
  }

  // A celery prefork worker between tasks waits for the pool's queue lock (billiard's Worker.workloop);
  // the hang diagnosis led with "MainThread did not move: blocked on self._rlock", high. The stdlib's
  // process pool waits the same way.
  it('process_pool_idle.py, a worker of a multiprocessing.Pool between tasks, "the batch jobs hang": idle, no lock finding', async () => {
    const target = await startTarget(['process_pool_idle.py']);
    // startTarget returns at "READY <pid>": the line's worker pids may arrive a moment later
    const line = await waitFor('the pool\'s worker pids', () => /READY \d+ ([\d ]+)\n/.exec(target.output()) ?? undefined, 15_000);
    const workers = line[1].trim().split(' ').map(Number);
    const session = new Session(workers[0], { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const report = await diagnose(session, 'the batch jobs hang', { budgetSeconds: 10 });
    assert.equal(report.kind, 'hang');
    const titles = report.findings.map((f) => f.title).join('\n');
    assert.ok(!report.findings.some((f) => f.severity !== 'info'), titles);
    assert.ok(!/_rlock|did not move/.test(titles), titles);
  });
  it('pool_leak_service.py, "billing requests hang": the pool runs dry because render_invoice returns early without giving its channel back (read from the source)', async () => {
    const target = await startTarget(['pool_leak_service.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    // The pool empties after a few drafts (one in seven invoices): wait until the requests wait.
    for (let i = 0; i < 60 && (await session.call('stack', {})).threads.filter((t) => t.blockedOn?.leaks?.length).length < 3; i++) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    const report = await diagnose(session, 'billing requests hang', { budgetSeconds: 10 });
    const [first] = report.findings;
    assert.match(first.title, /^ChannelPool runs dry: render_invoice \(invoices\.py:\d+\) takes with `CHANNELS\.checkout\(\)` and gives back with `CHANNELS\.checkin\(channel\)` \(line \d+\) outside `finally` — `return \{"id": invoice_id, "draft": True\}` at line \d+ leaves without giving it back; 3 threads wait in ChannelPool\.checkout \(channels\.py:\d+\) and no thread holds one$/,
      report.findings.map((f) => f.title).join('\n'));
    assert.equal(first.severity, 'high');
    assert.equal(first.location?.function, 'render_invoice');
    assert.equal(first.location?.file, path.join(FIXTURES, 'billing', 'invoices.py'));
    // customer_balance gives back in finally, open_channel_for_stream hands it on, the stats lock is no pool: none is named.
    assert.ok(!report.findings.some((f) => f.evidence.some((e) => /customer_balance|open_channel_for_stream|_stats_lock/.test(e))), JSON.stringify(report.findings, null, 1).slice(0, 3000));
    assert.match(first.next_steps[0], /^Give it back on every way out of render_invoice: `try: … finally: CHANNELS\.checkin\(channel\)`/);
  });
  it('idle_executors.py, "the service hangs": asyncio\'s idle executor threads wait for work, not for a producer; nothing is named as stuck feeding them (judge 14)', async () => {
    const target = await startTarget(['idle_executors.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const report = await diagnose(session, 'the service hangs', { budgetSeconds: 10 });
    const titles = report.findings.map((f) => f.title).join('\n');
    assert.ok(!/producer|work_queue/.test(titles), titles);
    assert.equal(report.findings[0].severity, 'info', titles);
  });
  it('pool_leak_service.py session, "invoice posting hangs": the pool\'s own context manager retires the channel on an exception without giving its slot back (judge 14)', async () => {
    const target = await startTarget(['pool_leak_service.py', 'session']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    for (let i = 0; i < 60 && (await session.call('stack', {})).threads.filter((t) => t.blockedOn?.leaks?.length).length < 3; i++) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    const report = await diagnose(session, 'invoice posting hangs', { budgetSeconds: 10 });
    const [first] = report.findings;
    assert.match(first.title, /^LedgerSession runs dry: LedgerSession\.session \(channels\.py:\d+\) takes with `self\._open\(\)` and gives back with `self\._close\(channel\)` \(line \d+\) only when nothing raised — an exception goes to `except Exception:` \(line \d+\), which calls `self\._retire\(channel\)` and does not give it back; 3 threads wait in LedgerSession\._open \(channels\.py:\d+\) and no thread holds one$/,
      report.findings.map((f) => f.title).join('\n'));
    assert.equal(first.location?.function, 'LedgerSession.session');
    assert.match(first.next_steps[0], /^Give it back on the exception path too: `self\._retire\(channel\)` must give back what `self\._open\(\)` took/);
  });
});
