// Helper faults: killed with SIGKILL, garbage on its stdout, and two sessions (or the extension and
// the CLI) on one process. Each leaves the target running, unprobed, and nothing of ours behind.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { silentLogger, type Logger } from '../../src/common/logger';
import { endText } from '../../src/format/probeText';
import type { WatchRecord } from '../../src/protocol/helper';
import { Session } from '../../src/session/session';
import { ROOT } from '../support/fixtures';
import { assertTargetHealthy, runCli, startBeatingTarget, type BeatingTarget, useBeatingTarget } from '../support/faults';

function session(pid: number, log: Logger = silentLogger): Session {
  return new Session(pid, { log, livenessIntervalMs: 0, attachTimeoutSeconds: 30 });
}

function firstRecord(probe: { onDidRecord: (l: (r: WatchRecord) => void) => unknown }): Promise<WatchRecord> {
  return new Promise((resolve) => probe.onDidRecord((r) => resolve(r)));
}

/**
 * A pyflight_helper package that prints junk on stdout before the real helper starts (as a .pth
 * file, sitecustomize or chatty import can in a user's environment), then is the real helper.
 */
function garbageHelperPath(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pyflight-garbage-'));
  mkdirSync(path.join(dir, 'pyflight_helper'));
  symlinkSync(path.join(ROOT, 'python', 'pyflight_agent'), path.join(dir, 'pyflight_agent')); // the in-target package, as it ships
  const real = path.join(ROOT, 'python', 'pyflight_helper');
  writeFileSync(path.join(dir, 'pyflight_helper', '__init__.py'), [
    'import sys',
    'for junk in ["Welcome to sitecustomize!", "null", "42", "[]", \'"a string"\', "{not json", \'{"id": null}\', \'{"event": "end"}\', "\\x00\\x01binary"]:',
    '    sys.stdout.write(junk + "\\n")',
    'sys.stdout.flush()',
    `__path__ = [${JSON.stringify(real)}]`,
    `exec(compile(open(${JSON.stringify(path.join(real, '__init__.py'))}).read(), "__init__.py", "exec"))`,
    '',
  ].join('\n'));
  return dir;
}

describe('faults: the helper', function () {
  this.timeout(120_000);
  const beating = useBeatingTarget();
  let target: BeatingTarget;
  beforeEach(() => { target = beating(); });

  it('helper killed with SIGKILL mid-watch: HELPER_CRASHED, its probe turned off by a fresh helper', async () => {
    const doomed = session(target.pid);
    await doomed.attach();
    const probe = doomed.startProbe('watch', { module: '__main__', method: 'beat', limit: 100_000 });
    await firstRecord(probe);
    const helperPid = doomed.helperPid!;
    process.kill(helperPid, 'SIGKILL');
    await assert.rejects(probe.done, (error: PyFlightError) => {
      assert.equal(error.code, ErrorCode.HelperCrashed);
      assert.equal(error.message, `The PyFlight helper stopped unexpectedly during "watch" (exit SIGKILL).`);
      assert.equal(error.hint, 'See the PyFlight log (PyFlight: Show Log), then attach again.');
      return true;
    });
    assert.equal(doomed.state, 'helperCrashed');
    assert.deepEqual(doomed.endReason?.toJSON(), { code: ErrorCode.HelperCrashed,
      message: `The PyFlight helper for process ${target.pid} stopped unexpectedly.`,
      hint: 'See the PyFlight log (PyFlight: Show Log), then attach again.' });
    await doomed.probesCleanedUp;
    await assert.rejects(doomed.call('stack', {}), { code: ErrorCode.HelperCrashed });
  });

  it('helper killed with SIGKILL while its loader is in the target: the target lives, the loader ends by itself, a new session gets the agent', async () => {
    // The loader (injector.py) runs in a session of its own and is never killed halfway: a thread left
    // inside the dlopen call with no tracer would return to address 0 and take the process down.
    // A target of its own: the shared one has the agent from the tests before.
    const fresh = await startBeatingTarget();
    const doomed = session(fresh.pid);
    await doomed.attach();
    const helperPid = doomed.helperPid!;
    const loaderOf = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).find((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').includes(`pyflight_helper.injector ${fresh.pid} `);
      } catch {
        return false;
      }
    });
    let sawLoader = false;
    const killed = new Promise<void>((resolve) => {
      void doomed.loadAgent(undefined, (message) => {
        if (!message.startsWith('Loading the agent into')) return;
        void (async () => {
          for (let i = 0; i < 1000 && !sawLoader; i++) {
            sawLoader = loaderOf() !== undefined;
            if (!sawLoader) await new Promise((r) => setTimeout(r, 5));
          }
          process.kill(helperPid, 'SIGKILL');
          resolve();
        })();
      }).catch(() => undefined);
    });
    await killed;
    if (!sawLoader) console.log('      (the loader had ended before it was seen: the helper was killed after the load)');
    await assertTargetHealthy(fresh);
    for (let i = 0; i < 200 && loaderOf(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(loaderOf(), undefined, 'the loader ended by itself');
    const next = session(fresh.pid);
    try {
      await next.attach();
      await next.loadAgent();
      assert.ok((await next.call('stack', {})).threads.length >= 1);
    } finally {
      await next.detach();
      await doomed.detach().catch(() => undefined);
      await fresh.stop();
    }
  });

  it('a helper printing garbage on stdout before it starts: the lines are logged and skipped, the session works', async () => {
    const saved = process.env.PYFLIGHT_HELPER_PATH;
    const dir = garbageHelperPath();
    process.env.PYFLIGHT_HELPER_PATH = dir;
    const warnings: string[] = [];
    const log: Logger = { ...silentLogger, warn: (m: string) => { warnings.push(m); } };
    const s = session(target.pid, log);
    try {
      await s.attach();
      const stack = await s.call('stack', {});
      assert.ok(stack.threads.some((t) => t.name === 'MainThread'));
      const probe = s.startProbe('watch', { module: '__main__', method: 'beat', expr: 'return_obj', limit: 1 });
      const record = await firstRecord(probe);
      await probe.done;
      assert.match(record.value ?? '', /^\d+$/);
      assert.ok(warnings.includes('helper wrote a non-JSON line: Welcome to sitecustomize!'), warnings.join('\n'));
      assert.ok(warnings.some((w) => w.includes('{not json')));
      assert.equal(s.state, 'ready');
    } finally {
      await s.detach();
      process.env.PYFLIGHT_HELPER_PATH = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two sessions on one pid: both watch at once, detaching one leaves the other working', async () => {
    const first = session(target.pid);
    const second = session(target.pid);
    await first.attach();
    await second.attach();
    const a = first.startProbe('watch', { module: '__main__', method: 'beat', expr: 'return_obj', limit: 100_000 });
    await firstRecord(a);
    const b = second.startProbe('watch', { module: '__main__', class: 'Ledger', method: 'add', expr: 'return_obj', limit: 3 });
    assert.equal((await b.done).count, 3);
    assert.equal(first.attachResult!.door, second.attachResult!.door, 'one agent, shared');
    await second.detach();
    const more = await firstRecord(a);
    assert.match(more.value ?? '', /^\d+$/, 'the first watch still records after the second session left');
    a.stop();
    assert.equal((await a.done).reason, 'stopped');
    await first.detach();
  });

  it('the extension and the CLI on one pid: both watch; when the CLI ends, the watch it shared says why it ended', async () => {
    const s = session(target.pid);
    await s.attach();
    const probe = s.startProbe('watch', { module: '__main__', class: 'Ledger', method: 'add', expr: 'return_obj', limit: 100_000 });
    await firstRecord(probe);
    const run = await runCli(['watch', String(target.pid), '__main__', 'Ledger', 'add', '--expr', 'return_obj', '-n', '3', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: { value?: string; reason?: string } });
    assert.deepEqual(lines.map((l) => l.type), ['record', 'record', 'record', 'end']);
    assert.equal(lines[3].data.reason, 'limit');
    // flight-profiler keeps one wrapper per function: the CLI's `off` removed the extension's watch
    // too. It used to end saying "limit 100000 reached"; now it says what happened.
    const summary = await probe.done;
    assert.equal(summary.reason, 'removed');
    assert.match(endText(summary, 'call'), /· ended: another session or flight-profiler client stopped probing this function$/);
    await s.detach();
  });
});
