// Attach faults: every way the process can be wrong or go away, with the exact message the user
// sees, the target unharmed, and nothing of ours left running.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { Session } from '../../src/session/session';
import { readerVenvHint } from '../../src/preflight/installProfiler';
import { bareVenvPython, FIXTURES, startTarget, stopAllTargets, unusedPid, VENV_PYTHON } from '../support/fixtures';
import { assertNoLeftovers, assertTargetHealthy, cliError, removeHeartbeatDirs, runCli, startBeatingTarget } from '../support/faults';

/** Attaches (and optionally loads the agent) expecting a failure; returns it with the session. */
async function attachFailure(pid: number, options: { loadAgent?: boolean; configuredPython?: string } = {}): Promise<PyFlightError> {
  const session = new Session(pid, { log: silentLogger, livenessIntervalMs: 0, attachTimeoutSeconds: 20, configuredPython: options.configuredPython });
  try {
    await session.attach();
    if (options.loadAgent) await session.loadAgent();
  } catch (error) {
    assert.ok(error instanceof PyFlightError, String(error));
    return error;
  } finally {
    await session.detach();
  }
  assert.fail(`attach to ${pid} unexpectedly succeeded`);
}

function info(error: PyFlightError): { code: string; message: string; hint?: string } {
  return { code: error.code, message: error.message, hint: error.hint };
}

describe('faults: attach', function () {
  this.timeout(120_000);
  afterEach(async () => {
    await stopAllTargets();
    await assertNoLeftovers();
  });
  after(removeHeartbeatDirs);

  it('a pid that never existed: PID_NOT_FOUND, extension and CLI say the same', async () => {
    const pid = unusedPid();
    const expected = { code: ErrorCode.PidNotFound, message: `No process with PID ${pid} is running.`, hint: 'Pick a running process from the list, or check the PID.' };
    assert.deepEqual(info(await attachFailure(pid)), expected);
    const run = await runCli(['stack', String(pid)]);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, `pyflight: ${expected.message}\n  hint: ${expected.hint}\n`);
  });

  it('a pid that exits while the agent loads: TARGET_EXITED, the session ends', async () => {
    const target = await startTarget(['exits_on_attach.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0, attachTimeoutSeconds: 20 });
    await session.attach();
    await assert.rejects(session.loadAgent(), (error: PyFlightError) => {
      assert.deepEqual(info(error), { code: ErrorCode.TargetExited, message: `Process ${target.pid} exited while PyFlight was loading its agent.`,
        hint: 'Start the program again and attach to the new process.' });
      return true;
    });
    assert.equal(session.state, 'targetExited');
    assert.equal(target.child.exitCode, 3, 'the fixture exited by itself');
  });

  it('a process that is not Python: NOT_PYTHON naming the executable', async () => {
    const sleeper = spawn('sleep', ['60']);
    try {
      assert.deepEqual(info(await attachFailure(sleeper.pid!)), { code: ErrorCode.NotPython,
        message: `Process ${sleeper.pid} is not a Python process (/usr/bin/sleep).`,
        hint: 'Pick a process whose executable is python, e.g. from "PyFlight: Attach to Process…".' });
      assert.equal(sleeper.exitCode, null, 'sleep still runs');
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('a Python without flight-profiler: PROFILER_NOT_INSTALLED with the pip command for that interpreter', async () => {
    const python = bareVenvPython();
    const target = await startBeatingTarget(python);
    assert.deepEqual(info(await attachFailure(target.pid)), { code: ErrorCode.ProfilerNotInstalled,
      message: `flight-profiler is not installed in the target's environment (${python}).`,
      hint: `Install it there: ${python} -m pip install flight-profiler==1.0.7. ${readerVenvHint()}` });
    await assertTargetHealthy(target);
  });

  it('a Python of another version (3.12) than pyflight.pythonPath (3.11): VERSION_MISMATCH', async function () {
    const python312 = '/root/.pyenv/versions/3.12.1/bin/python3.12';
    if (!existsSync(python312)) this.skip(); // this machine image has pyenv's 3.12; others may not
    const target = await startBeatingTarget(python312);
    assert.deepEqual(info(await attachFailure(target.pid, { configuredPython: VENV_PYTHON })), { code: ErrorCode.VersionMismatch,
      message: `pyflight.pythonPath (${VENV_PYTHON}) is not the interpreter process ${target.pid} runs (${python312}).`,
      hint: "Clear the setting, or point it at the target's own interpreter." });
    await assertTargetHealthy(target);
  });

  it('another binary of the same version (Debian 3.11 vs the venv\'s pyenv 3.11): VERSION_MISMATCH, then the resolved one is asked', async function () {
    const debian = '/usr/bin/python3.11';
    // Needs two binaries: skipped where the venv itself is built on Debian's python3.11.
    if (!existsSync(debian) || realpathSync(VENV_PYTHON) === realpathSync(debian)) this.skip();
    const target = await startBeatingTarget(debian);
    assert.deepEqual(info(await attachFailure(target.pid, { configuredPython: VENV_PYTHON })), { code: ErrorCode.VersionMismatch,
      message: `pyflight.pythonPath (${VENV_PYTHON}) is not the interpreter process ${target.pid} runs (${debian}).`,
      hint: "Clear the setting, or point it at the target's own interpreter." });
    // Without the setting PyFlight resolves the target's own binary, which lacks flight-profiler.
    assert.deepEqual(info(await attachFailure(target.pid)), { code: ErrorCode.ProfilerNotInstalled,
      message: `flight-profiler is not installed in the target's environment (${debian}).`,
      hint: `Install it there: ${debian} -m pip install flight-profiler==1.0.7. ${readerVenvHint()}` });
    await assertTargetHealthy(target);
  });

  it("a target owned by another user, PyFlight not root: PERMISSION_DENIED (stack and perf), nothing started", async function () {
    if (process.getuid?.() !== 0) this.skip(); // needs root to start processes as two other users
    // The target runs as nobody (Debian's python: /root/.pyenv is not readable by others).
    const other = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '/usr/bin/python3.11', 'plain_sleeper.py'],
      { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((r) => other.stdout!.once('data', () => r()));
    try {
      const asUser = { wrap: ['setpriv', '--reuid=65533', '--regid=65533', '--clear-groups'], env: { HOME: '/tmp' } };
      const expected = { code: ErrorCode.PermissionDenied, message: `Process ${other.pid} belongs to nobody; PyFlight runs as 65533 and may not attach to it.`,
        hint: 'Run VS Code (or pyflight) as nobody, or as root.' };
      assert.deepEqual(cliError(await runCli(['stack', String(other.pid), '--json'], asUser)), expected);
      assert.deepEqual(cliError(await runCli(['perf', String(other.pid), '-d', '1', '--json'], asUser)), expected);
      assert.equal(other.exitCode, null, "the other user's process still runs");
    } finally {
      other.kill('SIGKILL');
    }
  });
});
