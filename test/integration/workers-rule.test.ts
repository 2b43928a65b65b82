// Which children of a real gunicorn / uvicorn master are its workers: one rule (src/processes/workers.ts)
// for `pyflight processes`, the picker, worker groups and --all-workers. Before it, --all-workers took
// uvicorn's multiprocessing resource tracker for a worker, loaded the agent into it, and its
// `watch -n 1` never ended; a helper forked by the master (same command line) was a "worker" too.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { silentLogger } from '../../src/common/logger';
import { listProcesses, serverWorkers } from '../../src/processes/processLister';
import { workersOf } from '../../src/processes/workers';
import { SessionManager } from '../../src/session/sessionManager';
import { runCli } from '../support/cli';
import { startGunicorn, startUvicorn, waitFor, type WebServer } from '../support/servers';

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');

describe('workers of a real uvicorn master (--workers 2): the spawned workers, never the resource tracker', function () {
  this.timeout(240_000);
  let server: WebServer;
  let tracker: number;
  let workers: number[];
  before(async () => {
    server = await startUvicorn(2);
    const children = server.workers();
    tracker = children.find((pid) => cmdline(pid).includes('resource_tracker'))!;
    assert.ok(tracker, `a resource tracker among ${children.map(cmdline).join(' | ')}`);
    workers = children.filter((pid) => pid !== tracker);
    assert.equal(workers.length, 2);
  });
  after(async () => { await server?.stop(); });

  it('processes (JSON and the tree), the lister and a worker group name the same two workers', async () => {
    assert.deepEqual(workersOf(server.pid, await listProcesses({ cpuSampleMs: 0 })).map((p) => p.pid), workers);
    assert.deepEqual(await serverWorkers(server.pid), workers);
    const json = await runCli(['processes', '--json']);
    const rows = JSON.parse(json.stdout) as Array<{ pid: number; server?: { role: string } }>;
    for (const pid of workers) assert.equal(rows.find((r) => r.pid === pid)?.server?.role, 'worker');
    assert.equal(rows.find((r) => r.pid === tracker)?.server, undefined);
    const tree = (await runCli(['processes'])).stdout.split('\n');
    const under = tree.filter((l) => /^\s*[├└] \d+/.test(l)).map((l) => Number(/[├└] (\d+)/.exec(l)![1]));
    for (const pid of workers) assert.ok(under.includes(pid), `worker ${pid} under its master:\n${tree.join('\n')}`);
    assert.ok(!under.includes(tracker));
    const manager = new SessionManager(silentLogger, () => ({ livenessIntervalMs: 0 }));
    try {
      const group = await manager.attachWorkers(server.pid, { pollMs: 0 });
      assert.deepEqual(group.workers.map((s) => s.pid), workers);
    } finally {
      await manager.dispose();
    }
  });

  it('watch --all-workers -n 1 ends by its limit on each worker, long before --timeout (the tracker never runs the function)', async () => {
    // uvicorn's Server.on_tick runs in every worker every 0.1 s, whichever worker the requests reach.
    const result = await runCli(['watch', String(server.pid), 'uvicorn.server', 'Server', 'on_tick', '-n', '1', '--all-workers', '--json', '--timeout', '150']);
    assert.equal(result.code, 0, result.stderr);
    const end = JSON.parse(result.stdout.trim().split('\n').pop()!) as { type: string; data: { workers: Array<{ worker: number; reason: string; args?: string }>; args?: string } };
    assert.equal(end.type, 'end');
    assert.deepEqual(end.data.workers.map((w) => w.worker).sort((a, b) => a - b), workers);
    for (const w of end.data.workers) {
      assert.equal(w.reason, 'limit', JSON.stringify(w));
      assert.equal(w.args, undefined, 'the agent\'s argument string is said once, not per worker');
    }
    assert.ok(result.ms < 140_000, `ended after ${result.ms} ms`);
  });
});

describe('workers of a real gunicorn master whose config forks a helper child', function () {
  this.timeout(120_000);
  let server: WebServer;
  let helper: number;
  before(async () => {
    server = await startGunicorn(2, ['-c', 'gunicorn_helper_conf.py'], 3);
    helper = Number(await waitFor('the sidecar helper', () => /sidecar helper (\d+) started/.exec(server.output())?.[1]));
  });
  after(async () => { await server?.stop(); });

  it('the helper has the workers\' command line but runs no worker code: not a worker', async () => {
    const children = server.workers();
    assert.ok(children.includes(helper) && children.length === 3);
    assert.equal(cmdline(helper), cmdline(children.find((c) => c !== helper)!), 'the same command line as a worker');
    const byCommandLine = workersOf(server.pid, await listProcesses({ cpuSampleMs: 0, mainFrames: false })).map((p) => p.pid);
    assert.deepEqual(byCommandLine, children, 'the command line alone cannot tell');
    assert.deepEqual(await serverWorkers(server.pid), children.filter((c) => c !== helper));
  });
});
