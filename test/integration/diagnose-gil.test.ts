import assert from 'node:assert/strict';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { diagnose } from '../../src/diagnose/engine';
import { Session } from '../../src/session/session';
import { FIXTURES, startTarget, stopAllTargets } from '../support/fixtures';

// Issue 10, gil playbook and routing by quick evidence, no language model, real targets.
describe('diagnose gil, and routing by quick evidence (real targets)', function () {
  this.timeout(120_000);
  const sessions: Session[] = [];
  async function open(argv: string[]): Promise<Session> {
    const target = await startTarget(argv);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    return session;
  }
  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  it('gil_hog.py, "latency spikes": the hogging thread is named first, in its code, with the threads that wait; gilstat is off afterwards', async () => {
    const session = await open(['gil_hog.py']);
    const report = await diagnose(session, 'requests have latency spikes', { budgetSeconds: 10 });
    assert.equal(report.kind, 'gil');
    const first = report.findings[0];
    assert.match(first.title, /^gil-hog holds the GIL (9\d|100)% of the time, in hog \(gil_hog\.py:1[78]\); .*gil-waiter-\d \(waits \d+%\).* wait for it$/);
    assert.equal(first.severity, 'high');
    assert.equal(first.location?.function, 'hog');
    assert.equal(first.location?.file, path.join(FIXTURES, 'gil_hog.py'));
    assert.ok(first.evidence.some((e) => /^gilstat \(flight-profiler's take_gil\/drop_gil interceptor\) over/.test(e)), first.evidence.join('\n'));
    assert.ok(first.evidence.some((e) => /held the GIL in \d of 8 stack samples, at hog/.test(e)), first.evidence.join('\n'));
    assert.ok(first.evidence.some((e) => /^py-spy --gil over 2 s: hog \(gil_hog\.py:1[78]\) was the running frame in \d+% of \d+ samples/.test(e)), first.evidence.join('\n'));
    assert.equal(session.gilstat?.isActive ?? false, false);
    assert.deepEqual((await session.call('gilstatState', {})).intercepted, { take_gil: false, drop_gil: false });
  });

  // judge 10: a background compactor's pure-Python loop made a store's p99; the slow diagnosis named
  // the function ("Compactor._compact uses 88.8% of the CPU samples") and nothing of the GIL.
  it('gil_hog.py, "p99 latency is awful for simple requests" (slow): the hog, its thread, and that it holds the GIL from the others', async () => {
    const session = await open(['gil_hog.py']);
    const report = await diagnose(session, 'p99 latency is awful for simple requests', { budgetSeconds: 8 });
    assert.equal(report.kind, 'slow');
    const first = report.findings[0];
    assert.equal(first.location?.function, 'hog', report.findings.map((f) => f.title).join('\n'));
    assert.match(first.title, /^hog (uses [\d.]+% of CPU samples in its own code )?\(thread gil-hog, holding the GIL from \d+ other threads\)/);
    assert.ok([first, ...report.findings].some((f) => f.evidence.some((e) => /^It runs in thread gil-hog; Python code holds the GIL while it runs, so the process's \d+ other threads \(.*gil-waiter-\d/.test(e))),
      report.findings.map((f) => f.evidence.join('\n')).join('\n'));
  });

  it('words that decide nothing: a leaking process is routed to memory by its RSS growth, and says so', async () => {
    const session = await open(['leaky_service.py']);
    const report = await diagnose(session, 'something is off with the cache service', { budgetSeconds: 8 });
    assert.match(report.routedBy, /^quick evidence: resident memory kept growing \(CPU \d+% of a core over [\d.]+ s; RSS \d+ MB \(\+[\d.]+ MB\); 4 stack samples/);
    assert.equal(report.kind, 'memory');
  });

  it('words that decide nothing: a CPU-bound process is routed to slow by its CPU use', async () => {
    const session = await open(['cpu_service.py', '90']);
    const report = await diagnose(session, 'please have a look', { budgetSeconds: 6 });
    assert.equal(report.kind, 'slow');
    assert.match(report.routedBy, /^quick evidence: the process is busy on the CPU(, and (starved of it|held back by a CPU limit|its threads outnumber its CPUs): .*)? \(CPU \d+% of a core/);
  });

  it('--kind torch on a process that never imported torch says so plainly, as its only finding', async () => {
    const session = sessions[0];
    const report = await diagnose(session, 'training is slow', { kind: 'torch' });
    assert.equal(report.kind, 'torch');
    assert.equal(report.findings.length, 1);
    assert.equal(report.findings[0].title, 'torch is not loaded in this process');
    assert.match(report.summary, /has not imported torch/);
  });
});
