import assert from 'node:assert/strict';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { diagnose } from '../../src/diagnose/engine';
import { Session } from '../../src/session/session';
import { FIXTURES, startTarget, stopAllTargets } from '../support/fixtures';

// Requests that wait at one line of the program, several at once, while the CPU idles: that line is
// where their time goes, and when it is a retry's sleep, what fails before each sleep is the cause.
describe('diagnose: requests that wait at one line', function () {
  this.timeout(120_000);
  const sessions: Session[] = [];
  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });
  async function diagnoseFixture(fixture: string, words: string) {
    const target = await startTarget([fixture]);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    steps.length = 0;
    return diagnose(session, words, { budgetSeconds: 12 }, (step) => steps.push(step));
  }
  // what the diagnosis said it did, for a failure's message
  const steps: string[] = [];

  // Judge 7: a slow but idle service (each request waits for an external signing program) got
  // "CPU-bound: build_statement uses 50.0% of CPU samples" from 2 samples in 10 s.
  for (const [words, kind] of [['statements take most of a second each, the CPU is idle', 'slow'], ['statement downloads hang', 'hang']] as const) {
    it(`subprocess_waits.py, "${words}": the three request threads waiting in Signer.sign, in subprocess.run (${kind})`, async () => {
      const report = await diagnoseFixture('subprocess_waits.py', words);
      assert.equal(report.kind, kind, report.routedBy);
      const first = report.findings[0];
      assert.match(first.title, /^[23] threads at a time wait in Signer\.sign \(subprocess_waits\.py:\d+, in subprocess\.run/, report.findings.map((f) => f.title).join('\n'));
      assert.deepEqual([first.location?.function, first.location?.file], ['Signer.sign', path.join(FIXTURES, 'subprocess_waits.py')]);
      assert.ok(first.evidence.some((e) => /^Their calls: serve → build_document → Signer\.sign → subprocess\.run\.$/.test(e)), first.evidence.join('\n'));
      if (kind === 'slow') assert.match(report.summary, /^Waiting, not computing: /);
      // the idle threads are not findings to act on
      assert.ok(!report.findings.some((f) => f.severity !== 'info' && /metrics|MainThread/.test(f.title)), report.findings.map((f) => f.title).join('\n'));
      // the exceptions are counted only behind a sleep at the lead's line: a wait in a child process is left as it was
      assert.doesNotMatch(first.title, /backing off/);
      assert.ok(!report.commands_run.some((c) => /--kind exception/.test(c)), report.commands_run.join('\n'));
    });
  }

  // Judge 13: build_quote ran on a bounded pool and submitted its lookups to the same pool; "the
  // pool is saturated … make build_quote return sooner" missed that nothing could ever run them.
  it('pool_self_deadlock.py, "report requests hang": the pool is deadlocked, its workers wait for tasks queued on itself', async () => {
    const report = await diagnoseFixture('pool_self_deadlock.py', 'report requests hang');
    assert.equal(report.kind, 'hang', report.routedBy);
    const first = report.findings[0];
    const said = `${report.findings.map((f) => f.title).join('\n')}\n--- steps:\n${steps.join('\n')}`;
    assert.match(first.title, /^The report-worker thread pool is deadlocked: its 3 workers wait in build_report \(pool_self_deadlock\.py:\d+\) for futures of tasks queued on the same pool/, said);
    assert.equal(first.severity, 'critical');
    assert.deepEqual([first.location?.function, first.location?.file], ['build_report', path.join(FIXTURES, 'pool_self_deadlock.py')]);
    assert.match(first.next_steps[0], /^Do not wait in a task for work submitted to the same pool/);
    assert.ok(first.evidence.some((e) => /^Other threads wait for its results too: request-\d/.test(e)), first.evidence.join('\n'));
    assert.equal(report.summary, `${first.title}.`);
  });

  // Judge 9: every quote slept 0.5 s in a retry's backoff, because the first endpoint of its list had
  // nothing listening; "4 threads wait in _call_with_retry, sleeping" named the place, not the cause.
  for (const [words, kind] of [['price requests take a third of a second each but the CPU is idle', 'slow'], ['price requests hang', 'hang']] as const) {
    it(`retry_backoff.py, "${words}": the refused connection, caught in StockClient._call_with_retry (${kind})`, async () => {
      const report = await diagnoseFixture('retry_backoff.py', words);
      assert.equal(report.kind, kind, report.routedBy);
      const first = report.findings[0];
      const titles = report.findings.map((f) => f.title).join('\n');
      assert.match(first.title, /threads at a time wait in StockClient\._call_with_retry \(retry_backoff\.py:\d+, sleeping, backing off after ConnectionRefusedError\)$/,
        `${titles}\n--- steps:\n${steps.join('\n')}`);
      assert.match(first.evidence[0], /^Before its sleeps a call fails: ConnectionRefusedError \(\[Errno 111\] Connection refused\) was raised \d+ times in 2 s in StockClient\._call_with_retry .*caught by `except ConnectionRefusedError:` at retry_backoff\.py:\d+/, first.evidence.join('\n'));
      assert.match(first.next_steps[0], /^Fix what fails before each retry \(ConnectionRefusedError/);
      assert.match(report.summary, /\d threads at a time wait in StockClient\._call_with_retry .*backing off after ConnectionRefusedError\)\.$/, report.summary);
      if (kind === 'slow') assert.match(report.summary, /^Waiting, not computing: /);
    });
  }
});
