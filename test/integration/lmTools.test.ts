import assert from 'node:assert/strict';
import { silentLogger } from '../../src/common/logger';
import { toolNamed, type ToolDeps } from '../../src/lmTools/tools';
import { Session } from '../../src/session/session';
import { startTarget, stopAllTargets, type Target } from '../support/fixtures';

// Issue 10: the language-model tools' vscode-free bodies against a real target (what the chat's
// model and agent mode get back), and their bounds: a watch stops by itself and leaves no probe.
describe('language-model tools on a real target (swallowed_errors.py)', function () {
  this.timeout(120_000);
  let target: Target;
  let session: Session;
  let deps: ToolDeps;

  before(async () => {
    target = await startTarget(['swallowed_errors.py']);
    session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await session.attach();
    deps = { session: async (pid) => { assert.equal(pid, target.pid); return session; } };
  });
  after(async () => {
    await session?.detach();
    await stopAllTargets();
  });

  it('pyflight_stacks answers the threads as text, read from outside', async () => {
    const { text } = await toolNamed('pyflight_stacks')!.run(deps, { pid: target.pid }, new AbortController().signal);
    assert.match(text, /Thread \d+ "order-worker-0"/);
    assert.equal(session.agentLoaded, false);
  });

  it('pyflight_watch with exceptionOnly: the failing calls with their arguments, stopped at its limit, no probe left', async () => {
    const tool = toolNamed('pyflight_watch')!;
    assert.match(tool.confirm!({ pid: target.pid, module: '__main__', method: 'parse_quantity', seconds: 99 }), /for at most 30 s/);
    const { text } = await tool.run(deps, { pid: target.pid, module: '__main__', method: 'parse_quantity', exceptionOnly: true, limit: 2, seconds: 10 },
      new AbortController().signal);
    const lines = text.split('\n');
    assert.equal(lines.filter((l) => /parse_quantity\(raw='twelve'\)/.test(l)).length, 2, text);
    assert.match(lines.at(-1)!, /^\(2 of 2 calls · ended: limit 2 reached/);
    assert.equal(session.probes.length, 0);
  });

  it('pyflight_watch on a function that is never called ends at its time bound', async () => {
    const started = Date.now();
    const { text } = await toolNamed('pyflight_watch')!.run(deps, { pid: target.pid, module: '__main__', method: 'main', limit: 5, seconds: 1 },
      new AbortController().signal);
    assert.match(text, /stopped after at most 1 s/);
    assert.ok(Date.now() - started < 15_000);
    assert.equal(session.probes.length, 0);
  });

  it('pyflight_diagnose returns the report as markdown', async () => {
    const { text } = await toolNamed('pyflight_diagnose')!.run(deps, { pid: target.pid, problem: 'orders vanish', kind: 'exception' }, new AbortController().signal);
    assert.match(text, /^# Diagnosis \(exception\) of process \d+/);
    assert.match(text, /## 1\. parse_quantity raises ValueError/);
  });
});

describe('language-model tools: the process dies during a watch', function () {
  this.timeout(120_000);
  after(stopAllTargets);

  it('pyflight_watch says the process exited (killed by SIGSEGV when read), with what was recorded before', async () => {
    const target = await startTarget(['swallowed_errors.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 200 });
    await session.attach();
    const deps: ToolDeps = { session: async () => session };
    try {
      // `main` is never called again: the watch is installed and waits, then the process dies.
      const answer = toolNamed('pyflight_watch')!.run(deps, { pid: target.pid, module: '__main__', method: 'main', limit: 20, seconds: 30 },
        new AbortController().signal);
      for (let i = 0; i < 600 && !session.probes[0]?.agentArgs; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(session.probes[0]?.agentArgs, 'the watch was installed');
      process.kill(target.pid, 'SIGSEGV');
      const { text } = await answer;
      assert.match(text.split('\n').at(-1)!, new RegExp(`^Process ${target.pid} exited during watch(: killed by SIGSEGV while|, while) PyFlight was attached \\(\\d+ calls? recorded before\\)\\.$`), text);
    } finally {
      await session.detach();
    }
  });
});
