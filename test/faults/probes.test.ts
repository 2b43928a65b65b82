// Probe faults: wrong names, broken expressions and filters, hostile values, shell metacharacters,
// and the target exiting under a watch, a trace, a CPU profile and a memory diff.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { localHost } from '../../src/host/localHost';
import { silentLogger } from '../../src/common/logger';
import { recordCpuProfile } from '../../src/profile/record';
import type { WatchRecord } from '../../src/protocol/helper';
import { Session } from '../../src/session/session';
import { stopAllTargets, VENV_PYTHON } from '../support/fixtures';
import { assertNoLeftovers, assertTargetHealthy, cliError, removeHeartbeatDirs, runCli, startBeatingTarget, strayFiles, type BeatingTarget } from '../support/faults';

const LOCATION_HINT = 'Check the class and method names, and the module name as the target imported it '
  + '(PyFlight: Show Module Name of This File, or `pyflight module <pid> <file>`).';
const EXPRESSION_HINT = 'Fix the expression; it is evaluated with args, kwargs, target and return_obj.';

function records(probe: { onDidRecord: (l: (r: WatchRecord) => void) => unknown }): WatchRecord[] {
  const out: WatchRecord[] = [];
  probe.onDidRecord((r) => out.push(r));
  return out;
}

async function failure(done: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await done;
  } catch (error) {
    assert.ok(error instanceof PyFlightError, String(error));
    return { code: error.code, message: error.message, hint: error.hint };
  }
  assert.fail('the probe started');
}

describe('faults: probes on a healthy target', function () {
  this.timeout(120_000);
  let target: BeatingTarget;
  let session: Session;

  before(async () => {
    target = await startBeatingTarget();
    session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await session.attach();
    await session.loadAgent();
  });
  afterEach(async () => {
    assert.deepEqual(session.probes, []);
    await assertTargetHealthy(target);
  });
  after(async () => {
    await session?.detach();
    await stopAllTargets();
    await assertNoLeftovers();
    removeHeartbeatDirs();
  });

  // Refused by the agent itself: flight-profiler would import the module (running its top-level code).
  it('unknown module: MODULE_NOT_FOUND naming it, nothing imported', async () => {
    assert.deepEqual(await failure(session.startProbe('watch', { module: 'no_such_module', method: 'beat' }).done), {
      code: ErrorCode.ModuleNotFound, hint: 'PyFlight never imports a module into a process: use the name the process imported it under.',
      message: `Module no_such_module is not imported in process ${target.pid}.` });
  });

  it("the script's own name as a module: MODULE_NOT_FOUND pointing at __main__, the script is not imported again", async () => {
    const got = await failure(session.startProbe('watch', { module: 'heartbeat', method: 'beat' }).done);
    assert.equal(got.code, ErrorCode.ModuleNotFound);
    assert.match(got.hint ?? '', /^Did you mean `__main__`\? The script a process runs is the module `__main__`\./);
  });

  it('unknown class: BAD_LOCATION naming it', async () => {
    assert.deepEqual(await failure(session.startProbe('trace', { module: '__main__', class: 'NoSuchClass', method: 'add' }).done), {
      code: ErrorCode.BadLocation, hint: LOCATION_HINT, message: 'No class named NoSuchClass is found in module __main__.' });
  });

  it('unknown method (module and class): BAD_LOCATION naming it', async () => {
    assert.deepEqual(await failure(session.startProbe('watch', { module: '__main__', method: 'no_such' }).done), {
      code: ErrorCode.BadLocation, hint: LOCATION_HINT, message: 'No method named no_such is found in module __main__.' });
    assert.deepEqual(await failure(session.startProbe('ttRecord', { module: '__main__', class: 'Ledger', method: 'no_such' }).done), {
      code: ErrorCode.BadLocation, hint: LOCATION_HINT, message: 'No method named no_such is found in class Ledger.' });
  });

  it('syntax error in --expr and in -f: BAD_EXPRESSION before anything is installed', async () => {
    assert.deepEqual(await failure(session.startProbe('watch', { module: '__main__', method: 'beat', expr: 'args[' }).done), {
      code: ErrorCode.BadExpression, hint: EXPRESSION_HINT, message: "The watch expression 'args[' is not a valid Python expression: '[' was never closed" });
    assert.deepEqual(await failure(session.startProbe('watch', { module: '__main__', method: 'beat', filter: 'args[0] >' }).done), {
      code: ErrorCode.BadExpression, hint: EXPRESSION_HINT, message: "The filter 'args[0] >' is not a valid Python expression: invalid syntax" });
  });

  it('runtime exception in --expr: the record carries the error, the function still returns its value', async () => {
    const probe = session.startProbe('watch', { module: '__main__', class: 'Ledger', method: 'add', expr: '1/0', limit: 2 });
    const got = records(probe);
    assert.equal((await probe.done).count, 2);
    for (const r of got) {
      assert.equal(r.expressionErrorLine, 'ZeroDivisionError: division by zero');
      assert.equal(r.isException, false);
    }
  });

  for (const kind of ['watch', 'trace', 'ttRecord'] as const) {
    it(`a -f filter that raises (${kind}): no record, the target's function unharmed`, async () => {
      const probe = session.startProbe(kind, { module: '__main__', class: 'Ledger', method: 'add', filter: 'undefined_name > 1', limit: 2 });
      const got = records(probe as never);
      await new Promise<void>((resolve) => probe.onDidChange(() => { if (probe.state === 'running') resolve(); }));
      await new Promise((r) => setTimeout(r, 600)); // ~12 calls through the failing filter
      probe.stop();
      await probe.done;
      // watch reports the filter failing (one record per call); trace and tt record nothing.
      for (const r of got) assert.equal(r.filterErrorLine, "NameError: name 'undefined_name' is not defined");
      assert.equal(target.heartbeat()?.ok, true, 'Ledger.add gave a wrong answer under the failing filter');
    });
  }

  it('hostile values (huge, deep, cyclic, unicode, NUL, HTML) come back as bounded text', async () => {
    const show = async (expr: string): Promise<WatchRecord> => {
      const probe = session.startProbe('watch', { module: '__main__', method: 'hostile_values', expr, limit: 1 });
      const got = records(probe);
      await probe.done;
      return got[0];
    };
    assert.equal((await show("return_obj['unicode']")).value, '"h\u00e9llo \u2713 \u65e5\u672c \u{1F680}"');
    assert.equal((await show("return_obj['nul']")).value, '"a\u0000b"');
    assert.equal((await show("return_obj['html']")).value, '"<script>alert(1)</script><img src=x onerror=alert(1)>"');
    assert.match((await show("return_obj['cycle']")).value!.replace(/\s+/g, ''), /^\[1,2,\[1,2,.*\[\.\.\.\]/);
    const huge = (await show("return_obj['huge']")).value!;
    assert.ok(huge.length < 100_000, `a 1 MB string came back as ${huge.length} characters`);
    assert.match(huge, /^"x+\.\.\.x+"$/);
    const deep = await show("return_obj['deep']");
    assert.equal(deep.value, null);
    assert.equal(deep.filterError, null, 'no filter was given: the value is what failed');
    assert.equal(deep.expressionErrorLine, 'RecursionError: maximum recursion depth exceeded while getting the repr of an object');
    const whole = await show('return_obj'); // all of them at once, -x 1
    assert.ok((whole.value ?? whole.expressionError ?? '').length < 200_000);
  });

  it('names with shell metacharacters are names, never commands', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pyflight-meta-'));
    const canary = path.join(dir, 'pwned');
    try {
      for (const name of [`$(touch ${canary})`, `\`touch ${canary}\``, `x; touch ${canary}`, `x && touch ${canary} #`, `x|touch ${canary}`]) {
        const got = await failure(session.startProbe('watch', { module: '__main__', method: name }).done);
        assert.equal(got.code, ErrorCode.BadLocation, `${name}: ${got.message}`);
        const run = await runCli(['watch', String(target.pid), name, 'beat', '-n', '1', '--json']);
        assert.equal(run.code, 1);
        assert.equal(JSON.parse(run.stdout).error.code, ErrorCode.BadLocation, run.stdout);
      }
      const expr = await failure(session.startProbe('watch', { module: '__main__', method: 'beat', expr: `$(touch ${canary})` }).done);
      assert.equal(expr.code, ErrorCode.BadExpression);
      assert.equal(existsSync(canary), false, 'a shell ran a name');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** SIGKILLed by the test, its child: the signal is named when the session read it before Node reaped the zombie. */
function assertExitedWhileAttached(error: { code: string; message: string; hint?: string } | undefined, pid: number): void {
  assert.equal(error?.code, ErrorCode.TargetExited);
  assert.match(error!.message, new RegExp(`^Process ${pid} exited(: killed by SIGKILL while|, while) PyFlight was attached\\.$`));
  assert.match(error!.hint ?? '', /Start the program again and attach to the new process\.$/);
}

describe('faults: the target exits mid-command', function () {
  this.timeout(120_000);
  afterEach(async () => {
    await stopAllTargets();
    await assertNoLeftovers();
  });
  after(removeHeartbeatDirs);

  async function attached(): Promise<{ target: BeatingTarget; session: Session }> {
    const target = await startBeatingTarget();
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 200 });
    await session.attach();
    await session.loadAgent();
    return { target, session };
  }

  for (const kind of ['watch', 'trace'] as const) {
    it(`mid-${kind}: the probe ends "process exited", the session says so`, async () => {
      const { target, session } = await attached();
      const probe = session.startProbe(kind, { module: '__main__', class: 'Ledger', method: 'add', limit: 100_000,
        ...(kind === 'trace' ? { intervalMs: 0 } : {}) });
      await new Promise<void>((resolve) => probe.onDidRecord(() => resolve()));
      await target.stop();
      const summary = await probe.done.catch((error: PyFlightError) => error);
      assert.ok(!(summary instanceof PyFlightError), `rejected: ${String(summary)}`);
      assert.equal(summary.reason, 'exited');
      await new Promise<void>((resolve) => (session.isFinal ? resolve() : session.onDidChangeState(() => resolve())));
      assert.equal(session.state, 'targetExited');
      assertExitedWhileAttached(session.endReason?.toJSON(), target.pid);
    });
  }

  it('mid-profile: the samples so far are kept, the end says the process exited, no temp file left', async () => {
    const target = await startBeatingTarget();
    const tempRoot = mkdtempSync(path.join(tmpdir(), 'pyflight-profile-root-'));
    try {
      const recording = recordCpuProfile({ pid: target.pid, host: localHost, preflightResult: { interpreter: { python: VENV_PYTHON } } }, { durationSeconds: 30, idle: true, tempRoot });
      await new Promise((r) => setTimeout(r, 2500));
      await target.stop();
      const result = await recording;
      assert.equal(result.end.reason, 'targetExited');
      assert.match((result.end as { message: string }).message, new RegExp(`^Process ${target.pid} exited after \\d+\\.\\d s of profiling; the profile has the samples recorded until then\\.$`));
      assert.ok(result.profile.samples > 0);
      assert.deepEqual(strayFiles(tempRoot), []);
    } finally {
      rmSync(tempRoot, { recursive: true, force: true });
    }
  });

  it('mid-memory-diff: TARGET_EXITED, the session ends', async () => {
    const { target, session } = await attached();
    let waiting!: () => void;
    const isWaiting = new Promise<void>((r) => { waiting = r; });
    const diff = session.call('memDiff', { interval: 30 }, { onWaiting: () => waiting() });
    diff.catch(() => undefined); // observed below, after the exit
    await isWaiting;
    await target.stop();
    assertExitedWhileAttached(await failure(diff), target.pid);
    assert.equal(session.state, 'targetExited');
  });
});

/**
 * The target crashes (SIGSEGV, sent by the test) while a CLI command runs in it: every command
 * fails with TARGET_EXITED and exit 1, never an end line with exit 0 ("reason exited" used to
 * look like success, and the memory diagnosis said "holder search failed: ConnectionRefusedError").
 * The signal is named when the CLI read the zombie's status before this test (its parent) reaped
 * it; the test checks the signal from its own child.
 */
describe('faults: the target is killed by SIGSEGV mid-command (CLI)', function () {
  this.timeout(120_000);
  afterEach(async () => {
    await stopAllTargets();
    await assertNoLeftovers();
  });
  after(removeHeartbeatDirs);

  const cases: { command: string; during: string; args: (pid: string) => string[]; when: (out: { stdout: string; stderr: string }) => boolean }[] = [
    { command: 'gilstat', during: 'gilstat', args: (pid) => ['gilstat', pid, '--interval', '1', '--duration', '60', '--json'],
      when: (o) => o.stdout.includes('{"type":"record"') },
    { command: 'watch', during: 'watch', args: (pid) => ['watch', pid, '__main__', 'Ledger', 'add', '-n', '100000', '--json'],
      when: (o) => o.stdout.includes('{"type":"record"') },
    { command: 'mem diff', during: 'mem diff', args: (pid) => ['mem', 'diff', pid, '--interval', '30', '--json'],
      when: (o) => /first (census|snapshot) taken/.test(o.stderr) },
    { command: 'diagnose', during: 'the diagnosis', args: (pid) => ['diagnose', pid, 'memory grows', '--kind', 'memory', '--budget', '60', '--json'],
      when: (o) => /First (census|heap snapshot) taken/.test(o.stderr) },
  ];
  for (const c of cases) {
    it(`mid-${c.command}: exit 1 and "process N exited during ${c.during}"`, async () => {
      const target = await startBeatingTarget();
      const pid = String(target.pid);
      const died = new Promise<string | null>((resolve) => target.child.once('exit', (_code, signal) => resolve(signal)));
      const run = await runCli(c.args(pid), {
        onSpawn: (child) => {
          const seen = { stdout: '', stderr: '' };
          let sent = false;
          const look = () => {
            if (!sent && c.when(seen)) {
              sent = true;
              process.kill(target.pid, 'SIGSEGV');
            }
          };
          child.stdout!.on('data', (d: Buffer) => { seen.stdout += d.toString(); look(); });
          child.stderr!.on('data', (d: Buffer) => { seen.stderr += d.toString(); look(); });
        },
      });
      assert.equal(await died, 'SIGSEGV', 'the target died by the signal the test sent');
      assert.equal(run.code, 1, `exit status: ${run.stdout}\n${run.stderr}`);
      const said = new RegExp(`^process ${pid} exited during ${c.during}(: killed by SIGSEGV while|, while) PyFlight was attached$`, 'i');
      if (c.command === 'diagnose') {
        // The report (what was gathered before) is printed, and says first that the process died.
        const report = JSON.parse(run.stdout) as { targetExited?: { message: string }; findings: { title: string; severity: string }[] };
        assert.match(report.targetExited?.message ?? '', said);
        assert.equal(report.findings[0].severity, 'critical');
        assert.match(report.findings[0].title, /^The process exited during the diagnosis/);
        assert.match(run.stderr, new RegExp(`pyflight: process ${pid} exited during the diagnosis`, 'i'));
      } else {
        const error = cliError(run);
        assert.equal(error.code, ErrorCode.TargetExited);
        assert.match(error.message, said);
      }
    });
  }
});
