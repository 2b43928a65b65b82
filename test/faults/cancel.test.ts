// Cancel at every stage of every long command: attach (before and during the helper's start),
// agent load, watch and trace (while installing and while running), a CPU profile, a memory diff.
// Each time: the user sees CANCELLED (silent in the UI) or a stopped end, the target runs on with
// no probe, and nothing of ours is left.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { localHost } from '../../src/host/localHost';
import { silentLogger } from '../../src/common/logger';
import { recordCpuProfile } from '../../src/profile/record';
import { Session } from '../../src/session/session';
import { VENV_PYTHON } from '../support/fixtures';
import { assertTargetHealthy, runCli, type BeatingTarget, useBeatingTarget } from '../support/faults';

function agentMapped(pid: number): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('flight_profiler_agent');
}

describe('faults: cancel at every stage', function () {
  this.timeout(120_000);
  const beating = useBeatingTarget();
  let target: BeatingTarget;
  beforeEach(() => { target = beating(); });

  for (const [stage, afterMs] of [['before the helper answers', 0], ['while the helper starts', 30]] as const) {
    it(`attach cancelled ${stage}: CANCELLED, the session failed, no helper left`, async () => {
      const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
      const abort = new AbortController();
      const attaching = session.attach(undefined, abort.signal);
      setTimeout(() => abort.abort(), afterMs);
      const error = await attaching.then(() => undefined, (e: PyFlightError) => e);
      if (error === undefined) {
        // The attach won the race: detaching is then the user's cancel.
        await session.detach();
        return;
      }
      assert.deepEqual({ code: error.code, message: error.message }, { code: ErrorCode.Cancelled, message: 'Cancelled.' });
      assert.equal(session.state, 'failed');
    });
  }

  it('agent load cancelled before it starts: CANCELLED, nothing loaded, the session stays usable', async () => {
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    try {
      await session.attach();
      const abort = new AbortController();
      abort.abort();
      await assert.rejects(session.loadAgent(abort.signal), { code: ErrorCode.Cancelled, message: 'Cancelled.' });
      assert.equal(agentMapped(target.pid), false);
      assert.equal(session.state, 'ready');
      assert.ok((await session.call('stack', {})).threads.length >= 1);
    } finally {
      await session.detach();
    }
  });

  it('agent load cancelled while injecting: the injection completes (the target lives), then CANCELLED; the next load reuses it', async () => {
    // Killing the injector mid-ptrace or removing the staged files early killed the target
    // ("Unable to open attach_params.data"): now a cancel waits for the injection to finish.
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    try {
      await session.attach();
      const abort = new AbortController();
      const error = await session.loadAgent(abort.signal, (message) => { if (message.startsWith('Loading the agent into')) abort.abort(); })
        .then(() => undefined, (e: PyFlightError) => e);
      assert.deepEqual(error && { code: error.code, message: error.message, hint: error.hint }, { code: ErrorCode.Cancelled,
        message: `Attach was cancelled; the agent had already been loaded into process ${target.pid}.`,
        hint: 'It stays until the process exits; the next command that needs it uses it without loading again.' });
      assert.equal(session.state, 'ready');
      await assertTargetHealthy(target);
      await session.loadAgent();
      assert.equal(session.attachResult?.reused, true);
    } finally {
      await session.detach();
    }
  });

  for (const kind of ['watch', 'trace', 'ttRecord'] as const) {
    for (const when of ['installing', 'running'] as const) {
      it(`${kind} stopped while ${when}: ends quietly, the function is the original again`, async () => {
        const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
        try {
          await session.attach();
          await session.loadAgent();
          const probe = session.startProbe(kind, { module: '__main__', class: 'Ledger', method: 'add', limit: 100_000, ...(kind === 'trace' ? { intervalMs: 0 } : {}) });
          if (when === 'running') await new Promise<void>((resolve) => probe.onDidRecord(() => resolve()));
          probe.stop();
          const end = await probe.done.then((summary) => summary.reason, (error: PyFlightError) => `${error.code}: ${error.message}`);
          // Stopped before the request reached the helper: CANCELLED (silent in the UI); after: "stopped".
          if (when === 'running') assert.equal(end, 'stopped');
          else assert.ok(end === 'stopped' || end === 'CANCELLED: Cancelled.', end);
          assert.deepEqual(session.probes, []);
        } finally {
          await session.detach();
        }
      });
    }
  }

  it('CPU profile cancelled in its first second: ends "stopped" with what was sampled, no py-spy left', async () => {
    const abort = new AbortController();
    const recording = recordCpuProfile({ pid: target.pid, host: localHost, preflightResult: { interpreter: { python: VENV_PYTHON } } }, { idle: true }, abort.signal);
    setTimeout(() => abort.abort(), 400);
    const result = await recording;
    assert.equal(result.end.reason, 'stopped');
  });

  it('memory diff cancelled between its censuses: CANCELLED at once, nothing stays in the agent', async () => {
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await session.attach();
    const abort = new AbortController();
    let waiting!: () => void;
    const isWaiting = new Promise<void>((r) => { waiting = r; });
    const diff = session.call('memDiff', { interval: 2 }, { signal: abort.signal, onWaiting: () => waiting() });
    diff.catch(() => undefined);
    await isWaiting;
    abort.abort();
    const error = await diff.then(() => undefined, (e: PyFlightError) => e);
    assert.ok(error);
    assert.equal(error.code, ErrorCode.Cancelled);
    assert.equal(error.message, 'Memory diff cancelled between its two censuses.');
    assert.equal(error.hint, 'The process runs normally; nothing stays in it.');
    assert.equal(session.state, 'ready');
    await session.detach();
  });

  it('Ctrl+C (SIGINT) in `pyflight watch`: the end line says stopped, exit 0, the helper and the probe are gone', async () => {
    const run = await runCli(['watch', String(target.pid), '__main__', 'Ledger', 'add', '-n', '100000', '--json'], {
      onSpawn: (child) => {
        // One Ctrl+C, at the first record (records keep coming while it stops).
        let sent = false;
        child.stdout!.on('data', (d: Buffer) => { if (!sent && d.toString().includes('"record"')) { sent = true; child.kill('SIGINT'); } });
      },
    });
    assert.equal(run.code, 0, run.stderr);
    const end = JSON.parse(run.stdout.trim().split('\n').pop()!) as { type: string; data: { reason: string } };
    assert.deepEqual([end.type, end.data.reason], ['end', 'stopped']);
  });

  it('a second Ctrl+C while `pyflight watch` stops does not kill it half-way: it says so, and still ends stopped with exit 0', async () => {
    const run = await runCli(['watch', String(target.pid), '__main__', 'Ledger', 'add', '-n', '100000', '--json'], {
      onSpawn: (child) => {
        let sent = false;
        child.stdout!.on('data', (d: Buffer) => {
          if (sent || !d.toString().includes('"record"')) return;
          sent = true;
          child.kill('SIGINT');
          child.kill('SIGINT');
        });
      },
    });
    assert.equal(run.code, 0, run.stderr);
    const end = JSON.parse(run.stdout.trim().split('\n').pop()!) as { type: string; data: { reason: string } };
    assert.deepEqual([end.type, end.data.reason], ['end', 'stopped']);
  });
});
