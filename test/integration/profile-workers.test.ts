// Record CPU Profile of All Workers on a real gunicorn master: one py-spy per worker in parallel,
// one merged profile with every worker's samples, and the per-worker filter.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { profileForWorker, recordWorkersProfile, type WorkersProgress } from '../../src/profile/workers';
import type { SessionManager } from '../../src/session/sessionManager';
import { FIXTURES } from '../support/fixtures';
import { useGunicornWithManager, type WebServer } from '../support/servers';

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
  });
});
