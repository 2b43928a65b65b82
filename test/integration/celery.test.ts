// A real celery worker (prefork pool, billiard): its master and two workers. The worker rule
// (src/processes/workers.ts) was written for celery but had never met one; its idle workers wait
// for the pool's queue lock between tasks, which the hang diagnosis reported as "MainThread did not
// move: blocked on self._rlock", high, ahead of the task that used the CPU.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { listProcesses } from '../../src/processes/processLister';
import { workersOf } from '../../src/processes/workers';
import { runCli } from '../support/cli';
import { FIXTURES } from '../support/fixtures';
import { startCelery, waitFor, type WebServer } from '../support/servers';

interface MergedReport {
  kind: string;
  summary: string;
  workers: Array<{ pid: number; kind?: string }>;
  findings: Array<{ title: string; severity: string; location: { function: string; file: string | null } | null; workers: number[] }>;
}

describe('a real celery worker (prefork, 2 processes): its workers, idle and busy', function () {
  this.timeout(240_000);
  let server: WebServer & { send: (jobs: number) => Promise<void> };
  let workers: number[];
  before(async () => {
    server = await startCelery(2);
    workers = server.workers();
    assert.equal(workers.length, 2, server.output());
  });
  after(async () => { await server?.stop(); });

  it('the picker\'s rule and `processes` name the two pool processes as its workers', async () => {
    assert.deepEqual(workersOf(server.pid, await listProcesses({ cpuSampleMs: 0 })).map((p) => p.pid), workers);
    const rows = JSON.parse((await runCli(['processes', '--json'])).stdout) as Array<{ pid: number; server?: { kind: string; role: string } }>;
    assert.deepEqual(rows.find((r) => r.pid === server.pid)?.server, { kind: 'celery', role: 'master' });
    for (const pid of workers) assert.deepEqual(rows.find((r) => r.pid === pid)?.server, { kind: 'celery', role: 'worker' });
  });

  it('idle, "the jobs hang": workers waiting for their next task are not a lock finding', async () => {
    const run = await runCli(['diagnose', String(server.pid), 'the fingerprint jobs hang', '--budget', '6', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as MergedReport;
    assert.deepEqual(report.workers.map((w) => w.pid), workers);
    const titles = report.findings.map((f) => `${f.severity}: ${f.title}`).join('\n');
    assert.ok(!report.findings.some((f) => f.severity !== 'info'), titles);
    assert.doesNotMatch(titles, /_rlock|did not move/);
  });

  it('busy, "the jobs are slow": the task\'s own function first, with the workers that ran it', async () => {
    await server.send(400); // a few hundred ms of CPU each: both workers stay busy for the whole profile
    await waitFor('a worker to start on a job', () => /Task celery_app\.fingerprint\[/.test(server.output()), 60_000);
    const run = await runCli(['diagnose', String(server.pid), 'the fingerprint jobs are slow', '--budget', '8', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as MergedReport;
    const first = report.findings[0];
    assert.equal(first.location?.function, 'fingerprint_document', report.findings.map((f) => f.title).join('\n'));
    assert.equal(first.location?.file, path.join(FIXTURES, 'web', 'celery_app.py'));
    assert.ok(first.workers.length >= 1 && first.workers.every((pid) => workers.includes(pid)), JSON.stringify(first.workers));
    assert.match(report.summary, new RegExp(`^In workers? [\\d, ]+ of celery master ${server.pid}: `));
  });
});
