// Flask's development server with its reloader: the process a user finds first (`flask run --debug`)
// only restarts a child with the same command line, which runs the app. Diagnosed, the reloader said
// "Mostly waiting … Popen._try_wait"; the one rule of workers (src/processes/workers.ts) now makes it
// a master whose one worker is the app, so everything that follows a master follows it there.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { listProcesses } from '../../src/processes/processLister';
import { workersOf } from '../../src/processes/workers';
import { runCli } from '../support/cli';
import { FIXTURES } from '../support/fixtures';
import { startFlaskReloader, type WebServer } from '../support/servers';

describe('a real Flask development server with its reloader (flask run --debug)', function () {
  this.timeout(240_000);
  let server: WebServer;
  let app: number;
  before(async () => {
    server = await startFlaskReloader();
    [app] = server.workers();
  });
  after(async () => { await server?.stop(); });

  it('processes and the picker\'s rule: the reloader is a master, the app its one worker', async () => {
    assert.deepEqual(workersOf(server.pid, await listProcesses({ cpuSampleMs: 0 })).map((p) => p.pid), [app]);
    const tree = (await runCli(['processes'])).stdout;
    assert.match(tree, new RegExp(`^\\s*${server.pid} .*\\[reloader master\\] flask --app flask_app run --debug`, 'm'));
    assert.match(tree, new RegExp(`^\\s*[└├] ${app} .*\\[reloader worker\\] flask --app flask_app run --debug`, 'm'));
  });

  it('diagnose <the reloader> "reports are slow": the app\'s compute_report, found in the app process', async () => {
    let loading = true;
    const load = (async () => { while (loading) await server.get('/work').catch(() => undefined); })();
    try {
      const run = await runCli(['diagnose', String(server.pid), 'reports', 'are', 'slow', '--budget', '8', '--json']);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout) as { summary: string; routedBy: string; findings: Array<{ location: { function: string; file: string } | null; workers: number[] }> };
      assert.deepEqual([report.findings[0].location?.function, report.findings[0].location?.file], ['compute_report', path.join(FIXTURES, 'web', 'flask_app.py')]);
      assert.deepEqual(report.findings[0].workers, [app]);
      assert.ok(report.summary.startsWith(`In worker ${app} of reloader master ${server.pid}: `), report.summary);
      assert.match(report.routedBy, /^the one worker of reloader master \d+ diagnosed: /);
    } finally {
      loading = false;
      await load;
    }
  });
});
