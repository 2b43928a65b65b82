// Record CPU Profile of All Workers on a real gunicorn master: one py-spy per worker in parallel,
// one merged profile with every worker's samples, and the per-worker filter; `pyflight perf <master>
// --all-workers` on real gunicorn and uvicorn masters (it once profiled only the idle master).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { profileForWorker, recordWorkersProfile, type WorkersProgress } from '../../src/profile/workers';
import type { SessionManager } from '../../src/session/sessionManager';
import { hotOwnAndLibrary, hottestPath } from '../../src/profile/model';
import { runCli } from '../support/cli';
import { FIXTURES } from '../support/fixtures';
import { startUvicorn, useGunicornWithManager, type WebServer } from '../support/servers';

interface PerfWorkersJson {
  master: number;
  worker?: number;
  workers: Array<{ pid: number; samples: number; idleSamples: number; error?: string }>;
  samples: number;
  idleSamples: number;
  hot: Array<{ function: string; kind: string; self: number; workers: Array<{ pid: number; self: number }> }>;
}

describe('CPU profile of all workers of a real gunicorn master', function () {
  this.timeout(120_000);
  const gunicorn = useGunicornWithManager(2);
  let server: WebServer;
  let manager: SessionManager;
  before(() => ({ server, manager } = gunicorn));

  it('profiles every worker in parallel; the merged profile has both workers\' samples and the filter shows one worker', async () => {
    const group = await manager.attachWorkers(server.pid, { pollMs: 0 });
    const workers = group.workers;
    assert.deepEqual(workers.map((s) => s.pid), server.workers());
    // Keep both sync workers busy in compute_report while py-spy samples them (concurrent requests).
    let loading = true;
    const load = (async () => {
      while (loading) await Promise.all(Array.from({ length: 4 }, () => server.get('/work').catch(() => 0)));
    })();
    const progress: WorkersProgress[] = [];
    let result;
    try {
      result = await recordWorkersProfile(workers, { durationSeconds: 3, workspaceRoots: [path.join(FIXTURES, 'web')], log: silentLogger },
        undefined, (p) => progress.push(p));
    } finally {
      loading = false;
      await load;
    }
    assert.ok(progress.length >= 2, 'progress after the workers\' chunks');
    assert.deepEqual(result.workers.map((w) => w.pid), workers.map((s) => s.pid));
    for (const w of result.workers) {
      assert.equal(w.error, undefined);
      assert.ok(w.profile.samples > 0, `worker ${w.pid} has samples`);
      assert.ok(w.profile.hot.some((h) => h.function === 'compute_report'), `worker ${w.pid} ran compute_report`);
    }
    assert.equal(result.merged.samples, result.workers.reduce((sum, w) => sum + w.profile.samples, 0), 'merged = sum of the workers');
    const mergedCompute = result.merged.hot.find((h) => h.function === 'compute_report')!;
    assert.equal(mergedCompute.self, result.workers.reduce((sum, w) => sum + w.profile.hot.find((h) => h.function === 'compute_report')!.self, 0));
    assert.equal(mergedCompute.file, path.join(FIXTURES, 'web', 'flask_app.py'));
    assert.equal(mergedCompute.kind, 'own');

    const [first, second] = result.workers;
    const onlyFirst = profileForWorker(result.merged, result.workers, first.pid);
    assert.equal(onlyFirst.samples, first.profile.samples);
    assert.ok(onlyFirst.samples < result.merged.samples, 'the filter leaves the other worker out');
    assert.equal(profileForWorker(result.merged, result.workers, second.pid).samples, second.profile.samples);
    assert.equal(profileForWorker(result.merged, result.workers, undefined), result.merged);
    for (const r of result.results.values()) assert.equal(r.end.reason, 'duration');
    // Loaded workers wait in SyncWorker.wait between requests: its own samples are idle, never first.
    // (It can still be on the stack of CPU samples: it calls notify(), an os.utime, on every loop.)
    const hot = hotOwnAndLibrary(result.merged);
    assert.equal(hot[0].function, 'compute_report', JSON.stringify(hot.slice(0, 3)));
    assert.equal(hot.find((h) => h.function === 'SyncWorker.wait')?.self ?? 0, 0, JSON.stringify(hot.find((h) => h.function === 'SyncWorker.wait')));
    assert.equal(hottestPath(result.merged).at(-1)?.name, 'compute_report');
  });

  it('pyflight perf <master> --all-workers merges every worker\'s samples, names the workers, and --worker shows one', async () => {
    const workers = server.workers();
    const load = () => Promise.all(Array.from({ length: 4 }, () => server.get('/work')));
    const all = await runCli(['perf', String(server.pid), '--all-workers', '-d', '3', '--json'], load);
    assert.equal(all.code, 0, all.stderr);
    const json = JSON.parse(all.stdout) as PerfWorkersJson;
    assert.equal(json.master, server.pid);
    assert.deepEqual(json.workers.map((w) => w.pid), workers);
    assert.equal(json.samples, json.workers.reduce((s, w) => s + w.samples, 0));
    const top = json.hot[0];
    assert.equal(top.function, 'compute_report');
    assert.ok(top.workers.length >= 1 && top.workers.every((w) => workers.includes(w.pid)));
    assert.equal(top.workers.reduce((s, w) => s + w.self, 0), top.self);
    const one = await runCli(['perf', String(server.pid), '--all-workers', '--worker', String(workers[1]), '-d', '2', '--json'], load);
    assert.equal(one.code, 0, one.stderr);
    const only = JSON.parse(one.stdout) as PerfWorkersJson;
    assert.equal(only.worker, workers[1]);
    assert.equal(only.samples, only.workers.find((w) => w.pid === workers[1])!.samples);
    const text = await runCli(['perf', String(server.pid), '--all-workers', '-d', '1']);
    assert.match(text.stdout, new RegExp(`^gunicorn master ${server.pid}: 2 workers, \\d+ samples merged`));
    assert.match(text.stdout, new RegExp(`worker ${workers[0]}: \\d+ samples · worker ${workers[1]}: \\d+ samples`));
    const wrong = await runCli(['perf', String(server.pid), '--all-workers', '--worker', '1', '-d', '1']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, new RegExp(`--worker 1 is not a worker of ${server.pid}; its workers are ${workers.join(', ')}`));
    const notMaster = await runCli(['perf', String(workers[0]), '--all-workers', '-d', '1', '--json']);
    assert.equal(notMaster.code, 1);
    assert.match(JSON.parse(notMaster.stdout).error.message, /is not a gunicorn, uvicorn or celery master/);
  });
});

describe('pyflight perf --all-workers on a real uvicorn master (--workers 2)', function () {
  this.timeout(120_000);
  let server: WebServer;
  before(async () => { server = await startUvicorn(2); });
  after(async () => { await server?.stop(); });

  it('profiles the two spawned workers, not multiprocessing\'s resource tracker', async () => {
    const tracker = server.workers().find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('resource_tracker'));
    const run = await runCli(['perf', String(server.pid), '--all-workers', '-d', '3', '--json'],
      () => Promise.all(['/block', '/work', '/work', '/work'].map((p) => server.get(p))));
    assert.equal(run.code, 0, run.stderr);
    const json = JSON.parse(run.stdout) as PerfWorkersJson;
    assert.equal(json.workers.length, 2);
    assert.ok(tracker && !json.workers.some((w) => w.pid === tracker));
    assert.equal(json.hot.find((h) => h.kind === 'own')?.function, 'compute_report', JSON.stringify(json.hot.slice(0, 4)));
  });
});
