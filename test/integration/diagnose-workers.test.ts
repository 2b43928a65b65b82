// `pyflight diagnose <master>`: every worker of a real gunicorn / uvicorn master diagnosed and the evidence
// merged, naming the worker(s) where the culprit was found (src/diagnose/workers.ts). Before, the
// diagnosis of one uvicorn worker found nothing because the other worker had served the slow endpoint.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../support/cli';
import { FIXTURES } from '../support/fixtures';
import { startGunicorn, startUvicorn, type WebServer } from '../support/servers';

interface MergedReport {
  pid: number;
  kind: string;
  summary: string;
  workers: Array<{ pid: number; kind?: string; summary?: string; error?: string }>;
  findings: Array<{ title: string; severity: string; location: { function: string; file: string | null } | null; workers: number[]; evidence: string[] }>;
}

async function diagnoseMaster(server: WebServer, workers: number[], load: () => Promise<unknown>): Promise<MergedReport> {
  const run = await runCli(['diagnose', String(server.pid), 'requests', 'are', 'slow', '--kind', 'slow', '--budget', '8', '--json'], load);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as MergedReport;
  assert.equal(report.pid, server.pid);
  assert.deepEqual(report.workers.map((w) => w.pid), workers);
  for (const w of report.workers) assert.equal(w.kind, 'slow', JSON.stringify(w));
  const culprit = report.findings[0];
  assert.equal(culprit.location?.function, 'compute_report', JSON.stringify(report.findings.slice(0, 2), null, 1));
  assert.ok(culprit.workers.length >= 1 && culprit.workers.every((pid) => workers.includes(pid)));
  const named = culprit.workers.length === 1 ? `worker ${culprit.workers[0]}` : `workers ${culprit.workers.join(', ')}`;
  assert.ok(culprit.title.endsWith(`(${named})`), culprit.title);
  assert.match(report.summary, new RegExp(`^In ${named} of \\w+ master ${server.pid}: `));
  assert.ok(culprit.evidence.some((e) => e.startsWith(`Worker ${culprit.workers[0]}: `)));
  assert.ok(!report.findings.some((f) => /SyncWorker\.wait|_worker|EpollSelector/.test(f.title)), 'idle loops are not findings');
  return report;
}

describe('pyflight diagnose <master>: every worker, merged (real servers)', function () {
  this.timeout(240_000);

  it('uvicorn --workers 2: both spawned workers diagnosed (never the resource tracker), the culprit named with its worker', async () => {
    const server = await startUvicorn(2);
    try {
      const workers = server.workers().filter((pid) => !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('resource_tracker'));
      // Only one request at a time: most of the CPU goes to whichever worker accepted it.
      await diagnoseMaster(server, workers, () => server.get('/work'));
    } finally {
      await server.stop();
    }
  });

  it('gunicorn -w 2: the same from a master whose workers are forks', async () => {
    const server = await startGunicorn(2);
    try {
      const report = await diagnoseMaster(server, server.workers(), () => Promise.all([server.get('/work'), server.get('/work')]));
      assert.equal(report.findings[0].location?.file, path.join(FIXTURES, 'web', 'flask_app.py'));
    } finally {
      await server.stop();
    }
  });
});
