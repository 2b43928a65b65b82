import assert from 'node:assert/strict';
import { silentLogger } from '../../src/common/logger';
import { diagnose } from '../../src/diagnose/engine';
import { Session } from '../../src/session/session';
import { startTarget, stopAllTargets } from '../support/fixtures';

// Issue 20: a problem worded as a hang ("it hangs", "requests time out") on a process that computes
// and holds no lock: the hang playbook's stack samples show nothing blocked while the process uses
// the CPU, so it profiles and says the process is busy, not hung, naming the hot function. On a
// loaded machine the lead may also say why it waits for a CPU; the function is named either way.
describe('diagnose: "it hangs" on a busy process — busy, not hung, with the hot function', function () {
  this.timeout(180_000);
  const sessions: Session[] = [];
  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  it('cpu_service.py, "the service hangs": profiled, score_order first, summary "Busy, not hung"', async () => {
    const target = await startTarget(['cpu_service.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const steps: string[] = [];
    const report = await diagnose(session, 'the service hangs', { budgetSeconds: 12 }, (s) => steps.push(s));
    const titles = report.findings.map((f) => f.title).join('\n');
    assert.equal(report.kind, 'hang');
    const [first] = report.findings;
    assert.equal(first.location?.function, 'score_order', titles);
    assert.match(first.title, /^score_order uses /, titles);
    assert.notEqual(first.severity, 'info');
    assert.ok(first.evidence.some((e) => /^Asked about a hang: \d+ stack samples over [\d.]+ s showed no lock cycle, .* It is busy, not hung\.$/.test(e)), first.evidence.join('\n'));
    assert.match(report.summary, /^Busy, not hung: score_order uses .*, at cpu_service\.py:\d+\.$/);
    assert.doesNotMatch(`${report.summary}\n${titles}`, /No lock wait found|Deadlock|remote service/);
    assert.ok(steps.some((s) => /^No thread is blocked, and .*: busy, not hung\. Profiling where the CPU goes\.$/.test(s)), steps.join('\n'));
    assert.ok(report.commands_run.some((c) => /^pyflight perf \d+ -d \d+$/.test(c)), report.commands_run.join('\n'));
  });
});
