import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { silentLogger } from '../../src/common/logger';
import { diagnose } from '../../src/diagnose/engine';
import { Session } from '../../src/session/session';
import { startTarget, stopAllTargets, VENV_PYTHON } from '../support/fixtures';

// Issue 20, item 1: a CPU-bound service that shares its one CPU with busy loops is starved, not
// waiting. The test pins the target and three busy loops of its own to the same CPU (taskset), so
// the target is ready to run most of the time and runs a fraction of it, whatever else the machine
// runs; it starts and kills every one of them.
describe('diagnose: a starved process is told from a waiting one (run-queue delay)', function () {
  this.timeout(180_000);
  const cpu = String(cpus().length - 1);
  const hogs: ChildProcess[] = [];
  const sessions: Session[] = [];

  async function starvedTarget(): Promise<Session> {
    const target = await startTarget(['-c', cpu, VENV_PYTHON, 'cpu_service.py'], 'taskset');
    for (let i = 0; i < 3; i++) hogs.push(spawn('taskset', ['-c', cpu, process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' }));
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    return session;
  }

  after(async () => {
    for (const h of hogs) h.kill('SIGKILL');
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  it('"requests are slow": starved of CPU, the host is overloaded — not waiting on a remote service', async () => {
    const session = await starvedTarget();
    const steps: string[] = [];
    const report = await diagnose(session, 'requests are slow', { budgetSeconds: 8 }, (s) => steps.push(s));
    assert.equal(report.kind, 'slow');
    const [first, second] = report.findings;
    assert.match(first.title, /^Starved of CPU: the process(' threads)? (was|were) ready to run \d+% of (the|a core's) time( \(several at once\))? but the 1 CPU it may run on \(its CPU affinity; the machine has \d+\) was busy \(load average [\d.]+\): the host is overloaded$/,
      report.findings.map((f) => f.title).join('\n'));
    assert.equal(first.severity, 'high');
    assert.equal(first.location?.function, 'score_order');
    assert.ok(first.evidence.some((e) => /ran \d+% of a core and its threads were ready to run but waiting for a CPU another \d+%/.test(e)), first.evidence.join('\n'));
    // The CPU culprit is still there, second: what the process runs when it gets the CPU.
    assert.equal(second.location?.function, 'score_order');
    // The script's functions are named as the agent finds them: __main__, not the file's name.
    assert.ok(second.next_steps.includes(`Measure each call: \`pyflight trace ${session.pid} __main__ score_order\`.`), second.next_steps.join('\n'));
    assert.match(report.summary, /^Starved of CPU: .*the host is overloaded\. When it runs, its CPU goes mostly to score_order \(cpu_service\.py:\d+\)\.$/);
    assert.doesNotMatch(report.summary, /waiting|remote service|queue/i);
    assert.ok(steps.some((s) => /ready to run \d+% of the time but ran only \d+%: the host is overloaded/.test(s)), steps.join('\n'));
  });

  it('auto, without telling words: routed to slow because it wants the CPU it does not get', async () => {
    const session = sessions[0] ?? await starvedTarget();
    const report = await diagnose(session, 'something is off with the scorer', { budgetSeconds: 10 });
    assert.equal(report.kind, 'slow');
    assert.match(report.routedBy, /^quick evidence: the process is busy on the CPU, and starved of it: the process.* ready to run \d+% .*the host is overloaded/);
    assert.match(report.findings[0].title, /^Starved of CPU: /);
  });
});
