// PyFlight on real third-party servers (issue: safe on production services). Each case failed
// before its fix: forked workers could not be attached, a live watch kept a worker from exiting,
// and the agent wrote its INFO lines into the application's log.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { Session } from '../../src/session/session';
import { FIXTURES } from '../support/fixtures';
import { isAlive, startGunicorn, startUvicorn, waitFor, type WebServer } from '../support/servers';

const APP = path.join(FIXTURES, 'web', 'flask_app.py');
const sessions: Session[] = [];

async function open(pid: number): Promise<Session> {
  const session = new Session(pid, { log: silentLogger, livenessIntervalMs: 200 });
  sessions.push(session);
  await session.attach();
  return session;
}

/** Lines the agent printed into the application's output. */
function agentLines(server: WebServer): string[] {
  return server.output().split('\n').filter((l) => l.includes('PyFlightProfiler'));
}

describe('on a real gunicorn server (2 sync workers)', function () {
  this.timeout(120_000);
  let server: WebServer;

  before(async () => {
    server = await startGunicorn(2);
  });

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.detach()));
  });

  after(async () => {
    await server?.stop();
  });

  it('a worker forked after the master got the agent can be attached and answers', async () => {
    const master = await open(server.pid);
    await master.loadAgent();
    assert.ok((await master.call('stack', {})).threads.some((t) => t.name === 'MainThread'));

    const before = server.workers();
    process.kill(before[0], 'SIGKILL'); // gunicorn forks a replacement from the master, agent state and all
    const fresh = await waitFor('a replacement worker', () => server.workers().find((w) => !before.includes(w)));

    const worker = await open(fresh);
    await worker.loadAgent();
    assert.equal((await worker.call('module', { file: APP })).module, 'flask_app');
    const main = (await worker.call('stack', {})).threads.find((t) => t.tid === fresh);
    assert.equal(main?.name, 'MainThread', 'a forked worker\'s main thread is MainThread, not the process name');
  });

  it('SIGTERM during a live watch: the worker exits as it would without PyFlight', async () => {
    const [pid] = server.workers();
    const worker = await open(pid);
    const probe = worker.startProbe('watch', { module: 'flask_app', method: 'slow', limit: 5 });
    await waitFor('the watch to be installed', () => probe.state === 'running', 30_000);

    process.kill(pid, 'SIGTERM');
    // gunicorn's graceful timeout is 20 s here: a worker held by the agent would still be alive then.
    await waitFor(`worker ${pid} to exit`, () => !isAlive(pid), 15_000);
    await probe.done.catch(() => undefined);
    assert.ok(!probe.isActive);
    assert.doesNotMatch(server.output(), /WORKER TIMEOUT/);
  });

  it('the agent writes nothing into the application log, not even the native loader\'s lines', async () => {
    const [pid] = server.workers();
    const worker = await open(pid);
    const probe = worker.startProbe('watch', { module: 'flask_app', method: 'compute_report', limit: 1 });
    await waitFor('the watch to be installed', () => probe.state === 'running', 30_000);
    // Either worker may take a request: send until the watched one has served one.
    for (let i = 0; i < 50 && probe.count === 0; i++) assert.equal(await server.get('/work'), 200);
    await probe.done;
    assert.equal(probe.count, 1, 'the agent was loaded and recorded the call');
    assert.deepEqual(agentLines(server), [], 'agent output in the app log');
  });
});

describe('on a real uvicorn server', function () {
  this.timeout(120_000);
  let server: WebServer;

  before(async () => {
    server = await startUvicorn();
  });

  after(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.detach()));
    await server?.stop();
  });

  it('the task running a blocking endpoint shows its whole chain down to the endpoint, marked running', async () => {
    const session = await open(server.pid);
    const requests = Array.from({ length: 6 }, () => server.get('/block')); // each blocks the loop 0.5 s
    let running;
    for (let i = 0; i < 20 && !running; i++) {
      running = (await session.call('stack', { async: true })).asyncTasks?.find((t) => t.running);
    }
    await Promise.all(requests);
    assert.ok(running, 'a task running on the loop');
    const names = running.frames.map((f) => f.function);
    assert.equal(names[0], 'block', names.join(' < '));
    assert.ok(names.includes('RequestResponseCycle.run_asgi'), names.join(' < '));
  });

  it('SIGTERM during a live watch: uvicorn shuts down', async () => {
    const session = await open(server.pid);
    const probe = session.startProbe('watch', { module: 'fastapi_app', method: 'slow', limit: 5 });
    await waitFor('the watch to be installed', () => probe.state === 'running', 30_000);
    process.kill(server.pid, 'SIGTERM');
    await waitFor(`uvicorn ${server.pid} to exit`, () => !isAlive(server.pid), 15_000);
    await probe.done.catch(() => undefined);
    assert.ok(!probe.isActive);
  });
});
