// tt details and replays against real targets (issues 6/7): values read as Python, a raising call's
// exception comes whole (not cut, not escaped twice), a replay is labelled as the replay of its
// call (also for a later CLI run, which has a fresh helper), and a Flask view replayed outside
// its request context says so and makes the CLI exit non-zero. Plus `processes` as a table.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import type { TtRecord } from '../../src/protocol/helper';
import { Session } from '../../src/session/session';
import { useAttachedService } from '../support/attached';
import { CLI, ROOT, type Target } from '../support/fixtures';
import { startGunicorn, type WebServer } from '../support/servers';

const ENV = { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python') };

function pyflight(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env: ENV });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Records `limit` calls of a function with tt. */
async function record(session: Session, where: { module: string; class?: string; method: string }, limit: number): Promise<TtRecord[]> {
  const probe = session.startProbe('ttRecord', { ...where, limit });
  const records: TtRecord[] = [];
  probe.onDidRecord((r) => records.push(r));
  const summary = await probe.done;
  assert.equal(summary.count, limit, JSON.stringify(summary));
  return records;
}

describe('tt values and replays on a plain target (tt_service.py)', function () {
  this.timeout(120_000);
  const attached = useAttachedService(['tt_service.py'], { livenessIntervalMs: 0 });
  let service: Target;
  let session: Session;
  before(() => ({ service, session } = attached));

  it('details read as Python: args tuple, kwargs dict, return value', async () => {
    const records = await record(session, { module: '__main__', method: 'lookup' }, 4);
    const returned = records.find((r) => r.isReturn)!;
    const detail = await session.call('ttDetail', { index: returned.index });
    assert.match(detail.args, /^\('k\d+,\d+',\)$/);
    assert.equal(detail.kwargs, "{'sep': ','}");
    assert.match(detail.returnValue!, /^\{'key': 'k\d+', 'value': \d+\}$/);
    assert.equal(detail.exception, null);
    assert.equal(detail.replayOf, null);
  });

  it('a raising call: the exception whole on one line, the traceback from user code, a replay labelled and no view hint', async () => {
    const records = await record(session, { module: '__main__', method: 'lookup' }, 4);
    const raised = records.find((r) => r.isException)!;
    const detail = await session.call('ttDetail', { index: raised.index });
    assert.equal(detail.returnValue, null);
    assert.equal(detail.exceptionType, 'ValueError');
    assert.match(detail.exceptionLine!, /^ValueError: no ',' in 'bad\d+': every line must be 'key,value'\. The parser stops .* "bad input" for the whole batch\. Fix the producer, or call lookup\(line, sep=\.\.\.\) with the separator it uses\.$/);
    const lines = detail.exception!.split('\n');
    assert.equal(lines[0], 'Traceback (most recent call last):');
    assert.match(lines[1], /tt_service\.py", line \d+, in lookup$/);
    assert.doesNotMatch(detail.exception!, /flight_profiler|\^\^\^|\\n/);

    const replay = await session.call('ttReplay', { index: raised.index });
    assert.equal(replay.isException, true);
    assert.equal(replay.replayOf, raised.index);
    assert.equal(replay.exceptionLine!.replace(/bad\d+/, ''), detail.exceptionLine!.replace(/bad\d+/, ''));
    assert.equal(replay.hint, undefined, 'a plain function is not a view');
    const listed = (await session.call('ttList', {})).records;
    assert.equal(listed.find((r) => r.index === replay.index)?.replayOf, raised.index);
    assert.equal(listed.find((r) => r.index === raised.index)?.replayOf, null);
  });

  it('CLI: a replay that raised exits 1; a later run shows it as the replay of its call', async () => {
    const records = await record(session, { module: '__main__', method: 'lookup' }, 4);
    const raised = records.find((r) => r.isException)!;
    const r = pyflight(['tt', String(service.pid), 'replay', String(raised.index)]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^pyflight: replay #\\d+ of #${raised.index} raised ValueError: no ',' in 'bad\\d+'.* separator it uses\\.$`, 'm'));
    assert.match(r.stdout, new RegExp(`^index +#(\\d+) \\(replay of #${raised.index}\\)$`, 'm'));
    const replayIndex = Number(/^index +#(\d+)/m.exec(r.stdout)![1]);
    assert.match(r.stdout, /^traceback$/m);
    const list = pyflight(['tt', String(service.pid), 'list']);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^#${replayIndex} .* raised +replay of #${raised.index} +__main__\\.lookup$`, 'm'));
    assert.match(list.stdout, new RegExp(`^#${raised.index} .* raised +__main__\\.lookup$`, 'm'));
    const returned = records.find((x) => x.isReturn)!;
    const ok = pyflight(['tt', String(service.pid), '-i', String(returned.index), '-p']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^returned +\{'key': 'k\d+', 'value': \d+\}$/m);
  });
});

describe('tt replay of a Flask view on a real gunicorn worker (flask_app.py)', function () {
  this.timeout(180_000);
  let server: WebServer;
  let session: Session;
  let traffic = true;
  let requests: Promise<void>;

  before(async () => {
    server = await startGunicorn(2);
    // Requests keep coming (either worker may take one) until the tests are done.
    requests = (async () => { while (traffic) await server.get('/slow').catch(() => undefined); })();
    session = new Session(server.workers()[0], { log: silentLogger, livenessIntervalMs: 0 });
    await session.attach();
  });
  after(async () => {
    traffic = false;
    await requests;
    await session?.detach();
    await server?.stop();
  });

  it('replaying Flask\'s view dispatch raises "Working outside of request context": whole, with the hint, labelled', async () => {
    const [call] = await record(session, { module: 'flask.app', class: 'Flask', method: 'dispatch_request' }, 1);
    assert.equal(call.isReturn, true);
    const replay = await session.call('ttReplay', { index: call.index });
    assert.equal(replay.isException, true);
    assert.equal(replay.replayOf, call.index);
    assert.notEqual(replay.index, call.index);
    assert.match(replay.exceptionLine!, /^RuntimeError: Working outside of request context\. This typically means .* how to avoid this problem\.$/);
    assert.match(replay.exception!.split('\n')[1], /flask\/app\.py", line \d+, in dispatch_request$/);
    assert.match(replay.hint!, /Flask/);
    assert.match(replay.hint!, /request context/);
    const listed = (await session.call('ttList', {})).records;
    assert.deepEqual(listed.filter((r) => r.replayOf === call.index).map((r) => r.index), [replay.index]);
  });

  it('a view replays outside its context; the CLI labels it and exits 1 when it raised', async () => {
    const [view] = await record(session, { module: 'flask_app', method: 'slow' }, 1);
    const ok = await session.call('ttReplay', { index: view.index });
    assert.equal(ok.isException, false);
    assert.equal(ok.returnValue, "{'ok': True}");
    assert.equal(ok.replayOf, view.index);

    const [call] = await record(session, { module: 'flask.app', class: 'Flask', method: 'dispatch_request' }, 1);
    const r = pyflight(['tt', String(session.pid), 'replay', String(call.index), '--json']);
    assert.equal(r.status, 1, r.stderr);
    const detail = JSON.parse(r.stdout);
    assert.equal(detail.replayOf, call.index);
    assert.match(detail.hint, /Flask/);
    assert.match(r.stderr, /hint: .*request context/);
    const list = pyflight(['tt', String(session.pid), 'list']);
    assert.match(list.stdout, new RegExp(`^#${ok.index} .* returned +replay of #${view.index} +flask_app\\.slow$`, 'm'));
    assert.match(list.stdout, new RegExp(`^#${detail.index} .* raised +replay of #${call.index} +flask\\.app\\.Flask\\.dispatch_request$`, 'm'));
  });

  it('processes (text) shows the gunicorn master, then its workers as a tree', () => {
    const r = pyflight(['processes']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0], /^ *PID +USER +AGE +COMMAND$/);
    const at = lines.findIndex((l) => new RegExp(`^ *${server.pid} `).test(l));
    assert.ok(at > 0, r.stdout);
    assert.match(lines[at], /^ *\d+ +\S+ +\d+[smhd] +\[gunicorn master\] .*gunicorn -w 2 /);
    const workers = server.workers();
    const rows = lines.slice(at + 1, at + 1 + workers.length);
    assert.deepEqual(rows.map((l) => Number(/[├└] (\d+) /.exec(l)?.[1])), workers, r.stdout);
    assert.match(rows.at(-1)!, /^ *└ \d+ +\S+ +\d+[smhd] +\[gunicorn worker\] /);
    for (const row of rows.slice(0, -1)) assert.match(row, /^ *├ \d+ /);
  });
});
