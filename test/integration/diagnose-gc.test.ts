import assert from 'node:assert/strict';
import { silentLogger } from '../../src/common/logger';
import { diagnose } from '../../src/diagnose/engine';
import { Session } from '../../src/session/session';
import { startTarget, stopAllTargets } from '../support/fixtures';

// Judge 13's catalog service: stalls of a second every so often were full garbage collections over
// a million long-lived objects, and the diagnosis blamed the line that allocated when one began.
// gc_pause_service.py keeps a road graph of ~1 M container objects and churns a bounded cache, so a
// full collection walks the graph every few seconds. The collector is read from outside.
describe('diagnose: garbage-collection pauses are named, not the line that allocated', function () {
  this.timeout(300_000);
  const sessions: Session[] = [];

  async function open(fixture: string): Promise<Session> {
    const target = await startTarget([fixture], undefined, 120_000);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    return session;
  }

  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  const titles = (findings: { title: string }[]) => findings.map((f) => f.title).join('\n');

  for (const [words, kinds] of [
    ['every so often all requests stall at once for around half a second; p99 latency is terrible', ['slow']],
    ['it freezes every few seconds', ['hang']],
    ['latency spikes', ['gil']],
  ] as const) {
    it(`"${words}": the collector's full collections lead, with the oldest generation they walk`, async () => {
      const session = await open('gc_pause_service.py');
      const steps: string[] = [];
      // The budget is generous: a loaded host churns the cache slower, and full collections come later.
      const report = await diagnose(session, words, { budgetSeconds: 60 }, (s) => steps.push(s));
      assert.ok((kinds as readonly string[]).includes(report.kind), report.kind);
      const [first] = report.findings;
      assert.equal(first.about, 'gc', `${titles(report.findings)}\n${steps.join('\n')}`);
      assert.equal(first.severity, 'high');
      assert.match(first.title, /^Garbage collection stalls the process: \d+ full collections? in \d+ s took up to [\d.]+ (s|ms), stopping every thread; [\d.]+ M objects live in the oldest generation, and each full collection walks them all$/, first.title);
      assert.match(report.summary, /^Garbage collection stalls the process/);
      assert.match(first.next_steps[0], /gc\.freeze\(\)/);
      assert.ok(first.evidence.some((e) => /^Pauses of 100 ms or more: .*full \(generation 2\)/.test(e)), first.evidence.join('\n'));
      assert.ok(report.commands_run.some((c) => c.startsWith(`pyflight gc ${session.pid} -d `)), report.commands_run.join('\n'));
      // Nothing high besides it: what the profile charged the collections to is one step lower.
      assert.ok(report.findings.slice(1).every((f) => f.severity !== 'high' && f.severity !== 'critical'), titles(report.findings));
    });
  }

  it('a service with a small heap gets no garbage-collection finding (cpu_service.py)', async () => {
    const session = await open('cpu_service.py');
    const report = await diagnose(session, 'requests are slow', { budgetSeconds: 15 });
    assert.ok(report.findings.every((f) => f.about !== 'gc'), titles(report.findings));
  });
});
