// "Attach to All Workers" of a real gunicorn master: one session per worker, one watch on all of
// them with records tagged by worker, and a worker the master forks later joins by itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { SessionManager } from '../../src/session/sessionManager';
import { CLI } from '../support/fixtures';
import { useGunicornWithManager, waitFor, type WebServer } from '../support/servers';

describe('all workers of a real gunicorn master', function () {
  this.timeout(120_000);
  const gunicorn = useGunicornWithManager(2);
  let server: WebServer;
  let manager: SessionManager;
  before(() => ({ server, manager } = gunicorn));

  it('attaches every worker read-only, watches all of them, and a replacement worker joins with the watch', async () => {
    const group = await manager.attachWorkers(server.pid, { pollMs: 200 });
    assert.deepEqual(group.workers.map((s) => s.pid), server.workers());
    assert.ok(group.workers.every((s) => !s.agentLoaded), 'attaching to the workers loaded nothing');
    assert.equal(manager.get(server.pid), undefined, 'the master itself is not attached');

    const watch = group.startProbe('watch', { module: 'flask_app', method: 'compute_report', limit: 1000 });
    const seen = new Set<number>();
    watch.onDidRecord(({ pid }) => seen.add(pid));
    await waitFor('the watch on every worker', () => group.workers.every((s) => watch.probes.get(s.pid)?.state === 'running'));
    // Concurrent requests keep both sync workers busy, so each serves some.
    for (let round = 0; round < 20 && seen.size < 2; round++) await Promise.all(Array.from({ length: 4 }, () => server.get('/work')));
    assert.deepEqual([...seen].sort(), server.workers(), 'records from each worker');

    const [victim] = server.workers();
    process.kill(victim, 'SIGKILL');
    const replacement = await waitFor('a replacement worker', () => server.workers().find((w) => w !== victim && !seen.has(w)));
    await waitFor('the replacement to join the group with the watch on it',
      () => watch.probes.get(replacement)?.state === 'running', 30_000);
    for (let round = 0; round < 20 && !seen.has(replacement); round++) await Promise.all(Array.from({ length: 4 }, () => server.get('/work')));
    assert.ok(seen.has(replacement), 'records from the worker that joined later');

    watch.stop();
    await watch.done;
    assert.ok([...watch.probes.values()].every((p) => !p.isActive));
  });

  it('pyflight watch --all-workers streams every worker\'s calls tagged with the worker, then one end line', async () => {
    const child = spawn(process.execPath, [CLI, 'watch', String(server.pid), 'flask_app', 'compute_report', '-n', '2', '--all-workers', '--json', '--timeout', '60'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const lines = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; worker?: number; data: unknown });
    let code: number | null | undefined;
    void exited.then((c) => { code = c; });
    for (let round = 0; round < 60 && code === undefined; round++) {
      await Promise.all(Array.from({ length: 4 }, () => server.get('/work').catch(() => 0)));
    }
    assert.equal(await exited, 0, out);
    const records = lines().filter((l) => l.type === 'record');
    assert.deepEqual([...new Set(records.map((r) => r.worker))].sort(), server.workers(), 'records from every worker');
    const end = lines().at(-1)!;
    assert.equal(end.type, 'end');
    assert.equal((end.data as { count: number }).count, records.length);
  });
});
