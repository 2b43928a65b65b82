import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { Session } from '../../src/session/session';
import { useAttachedService, useForeignHelper } from '../support/attached';
import { bareVenvPython, FIXTURES, helpersOwnedBy, isHelperRunning, RUN_OWNER, startTarget, stopAllTargets, unusedPid,
  type Target } from '../support/fixtures';

/** The libraries flight-profiler's agent brings into a process, as mapped in it now. */
function agentLibrariesIn(pid: number): string[] {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.includes('flight_profiler_agent'));
}

async function attachError(pid: number, loadAgent = false): Promise<PyFlightError> {
  const session = new Session(pid, { log: silentLogger, livenessIntervalMs: 0, attachTimeoutSeconds: 20 });
  try {
    await session.attach();
    if (loadAgent) await session.loadAgent();
  } catch (error) {
    assert.ok(error instanceof PyFlightError, String(error));
    assert.equal(session.state, loadAgent ? 'targetExited' : 'failed');
    return error;
  }
  await session.detach();
  assert.fail(`attach to ${pid} unexpectedly succeeded`);
}

describe('Session against real targets (flight-profiler attach)', function () {
  this.timeout(60_000);
  const consents: number[] = [];
  // Another user's helper on the same machine: our checks must neither count nor touch it.
  const foreign = useForeignHelper();
  const attached = useAttachedService(['busy_service.py'], {
    livenessIntervalMs: 200, confirmAgentLoad: async (s) => { consents.push(s.pid); return true; },
  });
  let service: Target;
  let session: Session;
  before(() => ({ service, session } = attached));

  it('attaching loads nothing into the target; stacks, with thread names, need no agent', async () => {
    assert.equal(session.state, 'ready');
    assert.equal(session.agentLoaded, false);
    const result = await session.call('stack', {});
    assert.ok(result.threads.some((t) => t.name === 'request-worker'), result.threads.map((t) => t.name).join(', '));
    assert.ok(result.threads.some((t) => t.name === 'MainThread' && t.tid === service.pid));
    assert.deepEqual(agentLibrariesIn(service.pid), [], 'nothing may be loaded before a command needs the agent');
    assert.deepEqual(consents, []);
  });

  it('refusing the agent fails the command with CANCELLED and loads nothing', async () => {
    const refusing = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 0, confirmAgentLoad: async () => false });
    await refusing.attach();
    await assert.rejects(refusing.call('module', { file: path.join(FIXTURES, 'busy_service.py') }), { code: ErrorCode.Cancelled });
    assert.deepEqual(agentLibrariesIn(service.pid), []);
    await refusing.detach();
  });

  it('loads the agent on the first command that needs it, asking once, from a private copy', async () => {
    await session.loadAgent();
    await session.loadAgent();
    assert.deepEqual(consents, [service.pid]);
    assert.equal(session.agentLoaded, true);
    const mapped = agentLibrariesIn(service.pid);
    assert.ok(mapped.length > 0 && mapped.every((l) => /pyflight-agent-\d+-\w+\/flight_profiler_agent\.so \(deleted\)$/.test(l)),
      `the staged copy, removed once loaded:\n${mapped.join('\n')}`);
    // nothing in the app's output: the agent logs into PyFlight, and the library's loader lines are cut out of the staged copy
    assert.doesNotMatch(service.output(), /PyFlightProfiler/, 'the agent logs into PyFlight, not the app');
  });

  it('attaches, reports the interpreter and flight-profiler version', () => {
    assert.equal(session.state, 'ready');
    assert.equal(session.hello?.flightProfiler.installed, true);
    assert.match(session.hello?.flightProfiler.version ?? '', /^\d+\.\d+\.\d+$/);
    assert.match(session.preflightResult!.interpreter.python, /\.venv\/bin\/python$/, 'venv kept, not /proc/<pid>/exe');
    assert.equal(session.attachResult!.kind, 'door');
    assert.match(session.attachResult!.door ?? '', /^\/tmp\/pyflight-door-\d+-\w+\/agent\.sock$/);
  });

  it('stack shows named threads with the fixture functions, most recent call first', async () => {
    const result = await session.call('stack', {});
    const worker = result.threads.find((t) => t.name === 'request-worker');
    assert.ok(worker, `threads: ${result.threads.map((t) => t.name).join(', ')}`);
    const names = worker.frames.map((f) => f.function);
    assert.equal(names.at(-1), 'Thread._bootstrap', 'qualified names');
    assert.ok(names.includes('request_worker'), names.join(' > '));
    assert.ok(names.indexOf('handle_request') < names.indexOf('request_worker'));
    const frame = worker.frames.find((f) => f.function === 'request_worker')!;
    assert.equal(frame.file, path.join(FIXTURES, 'busy_service.py'));
    assert.equal(frame.line, 34);
    assert.ok(result.threads.some((t) => t.name === 'MainThread'));
    assert.ok(!result.threads.some((t) => t.name.startsWith('flight-profiler-')), 'agent threads hidden');
    assert.ok(result.hiddenAgentThreads >= 1);
  });

  it('stack --async lists the asyncio task with its coroutine frames', async () => {
    const result = await session.call('stack', { async: true });
    const task = result.asyncTasks?.find((t) => t.name === 'inventory-poller');
    assert.ok(task, JSON.stringify(result.asyncTasks));
    assert.equal(task.thread, 'event-loop');
    assert.ok(task.frames.some((f) => f.function === 'poll_inventory' && f.line === 39));
  });

  it('stack --native adds native frames', async () => {
    const result = await session.call('stack', { native: true });
    const main = result.threads.find((t) => t.name === 'MainThread')!;
    assert.ok((main.nativeFrames ?? []).length > 3);
    assert.ok(main.nativeFrames!.some((f) => /^_?Py|main/.test(f.function)), main.nativeFrames!.map((f) => f.function).join(','));
  });

  it('module maps a script to __main__ and a package file to its dotted name', async () => {
    assert.equal((await session.call('module', { file: path.join(FIXTURES, 'busy_service.py') })).module, '__main__');
    assert.equal((await session.call('module', { file: path.join(FIXTURES, 'shop', 'orders.py') })).module, 'shop.orders');
    await assert.rejects(session.call('module', { file: path.join(FIXTURES, 'plain_sleeper.py') }), { code: ErrorCode.FileNotImported });
    await assert.rejects(session.call('module', { file: path.join(FIXTURES, 'missing.py') }), { code: ErrorCode.BadArgument });
  });

  it('a second session finds the loaded agent without asking', async () => {
    const second = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 0, confirmAgentLoad: async () => assert.fail('asked again') });
    await second.attach();
    assert.equal(second.agentLoaded, true);
    assert.equal(second.attachResult!.reused, true);
    assert.equal(second.attachResult!.door, session.attachResult!.door);
    await second.detach();
  });

  it('detach stops the helper process', async () => {
    const extra = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await extra.attach();
    const helperPid = extra.helperPid!; // what `hello` reported
    assert.equal(helperPid, extra.hello?.helperPid);
    assert.ok(isHelperRunning(helperPid));
    assert.ok(helpersOwnedBy(RUN_OWNER).includes(helperPid));
    await extra.detach();
    assert.equal(extra.state, 'detached');
    assert.ok(!isHelperRunning(helperPid), 'helper still running after detach');
    assert.ok(isHelperRunning(foreign.pid), "the other user's helper is untouched");
  });

  it('a crashed helper is reported and its session ends', async () => {
    const doomed = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await doomed.attach();
    const changed = new Promise<string>((resolve) => doomed.onDidChangeState(resolve));
    process.kill(doomed.helperPid!, 'SIGKILL');
    assert.equal(await changed, 'helperCrashed');
    await assert.rejects(doomed.call('stack', {}), { code: ErrorCode.HelperCrashed });
  });

  it('the session notices when the target exits', async () => {
    const shortLived = await startTarget(['plain_sleeper.py']);
    const watched = new Session(shortLived.pid, { log: silentLogger, livenessIntervalMs: 100 });
    await watched.attach();
    const ended = new Promise<string>((resolve) => watched.onDidChangeState(resolve));
    await shortLived.stop();
    assert.equal(await ended, 'targetExited');
    assert.equal(watched.endReason?.code, ErrorCode.TargetExited);
  });
});

describe('Session attach failures carry stable error codes', function () {
  this.timeout(60_000);
  after(stopAllTargets);

  it('PID_NOT_FOUND for a pid that does not exist', async () => {
    const error = await attachError(unusedPid());
    assert.equal(error.code, ErrorCode.PidNotFound);
  });

  it('NOT_PYTHON for a process that is not Python', async () => {
    const { spawn } = await import('node:child_process');
    const sleeper = spawn('sleep', ['60']);
    try {
      const error = await attachError(sleeper.pid!);
      assert.equal(error.code, ErrorCode.NotPython);
      assert.match(error.message, /not a Python process/);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('PROFILER_NOT_INSTALLED for a Python without flight-profiler, naming that interpreter', async () => {
    const python = bareVenvPython();
    const target = await startTarget(['plain_sleeper.py'], python);
    const error = await attachError(target.pid);
    assert.equal(error.code, ErrorCode.ProfilerNotInstalled);
    assert.equal(error.details?.python, python);
    assert.match(error.hint ?? '', /pip install flight-profiler==/);
  });

  it('TARGET_EXITED for a target that exits while the agent loads', async () => {
    const target = await startTarget(['exits_on_attach.py']);
    const error = await attachError(target.pid, true);
    assert.equal(error.code, ErrorCode.TargetExited, `${error.code}: ${error.message}\n${target.output()}`);
  });
});
