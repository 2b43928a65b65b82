import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import type { GilStat } from '../../src/session/gilStat';
import { topHolder, visibleThreads } from '../../src/gil/gilText';
import type { GilstatRecord } from '../../src/protocol/helper';
import { Session } from '../../src/session/session';
import { CLI, ROOT, startTarget, stopAllTargets, VENV_PYTHON, type Target } from '../support/fixtures';

function records(gil: GilStat, count: number): Promise<GilstatRecord[]> {
  const seen: GilstatRecord[] = [];
  return new Promise((resolve, reject) => {
    gil.onDidRecord((r) => {
      seen.push(r);
      if (seen.length === count) resolve(seen);
    });
    gil.done.then(() => reject(new Error(`gilstat ended after ${seen.length} reports`)), reject);
  });
}

function running(gil: GilStat): Promise<void> {
  return new Promise((resolve, reject) => {
    if (gil.state === 'running') resolve();
    gil.onDidChange(() => { if (gil.state === 'running') resolve(); });
    gil.done.then(() => reject(new Error('gilstat ended before it was on')), reject);
  });
}

/**
 * gil_hog.py on this machine's interpreter (pyenv 3.11: take_gil/drop_gil live in the shared
 * libpython3.11.so, where flight-profiler's `nm` on the executable does not look).
 */
describe('gilstat: who holds the GIL (gil_hog.py, shared libpython)', function () {
  this.timeout(120_000);
  let hog: Target;
  let session: Session;
  let observer: Session;

  before(async () => {
    hog = await startTarget(['gil_hog.py']);
    session = new Session(hog.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await session.attach();
    // A second session reads the interceptor's state from outside (no agent request).
    observer = new Session(hog.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await observer.attach();
  });
  after(async () => {
    await session?.detach();
    await observer?.detach();
    await stopAllTargets();
  });

  it('finds take_gil/drop_gil in the shared libpython, from outside and without the agent', async () => {
    const state = await observer.call('gilstatState', {});
    assert.match(state.symbols.take_gil, /libpython3\.\d+\.so/);
    assert.match(state.symbols.drop_gil, /libpython3\.\d+\.so/);
    assert.deepEqual(state.intercepted, { take_gil: false, drop_gil: false });
  });

  it('reports the hog holding the GIL and the waiters waiting, then is off in the target', async () => {
    const gil = session.startGilstat({ intervalSeconds: 1 });
    const [, second] = await records(gil, 2);
    assert.match(gil.symbols?.take_gil ?? '', /libpython/);
    assert.equal(topHolder(second)?.thread, 'gil-hog', JSON.stringify(second.threads));
    const waiters = visibleThreads(second).filter((t) => t.thread.startsWith('gil-waiter-'));
    assert.equal(waiters.length, 2);
    const hog = second.threads.find((t) => t.thread === 'gil-hog')!;
    for (const w of waiters) assert.ok(w.intervalWaitMs > w.intervalHoldMs, JSON.stringify(w));
    assert.ok(hog.intervalHoldMs > hog.intervalWaitMs, JSON.stringify(hog));
    assert.ok(second.alerts.some((a) => a.thread.startsWith('gil-waiter-') && a.event === 'wait' && a.ms >= 10));
    assert.deepEqual((await observer.call('gilstatState', {})).intercepted, { take_gil: true, drop_gil: true });

    gil.stop();
    const summary = await gil.done;
    assert.equal(summary.reason, 'stopped');
    assert.ok(summary.count >= 2);
    assert.deepEqual((await observer.call('gilstatState', {})).intercepted, { take_gil: false, drop_gil: false });

    // And a second `on` works (the agent's state was really reset by `off`).
    const again = session.startGilstat({ intervalSeconds: 1 });
    const [report] = await records(again, 1);
    assert.equal(topHolder(report)?.thread, 'gil-hog');
    again.stop();
    assert.equal((await again.done).reason, 'stopped');
    assert.deepEqual((await observer.call('gilstatState', {})).intercepted, { take_gil: false, drop_gil: false });
  });

  it('cancel right after `on`, before any report, leaves no interceptor', async () => {
    const gil = session.startGilstat({ intervalSeconds: 5 });
    await running(gil);
    gil.stop();
    const summary = await gil.done;
    assert.equal(summary.reason, 'stopped');
    assert.deepEqual((await observer.call('gilstatState', {})).intercepted, { take_gil: false, drop_gil: false });
  });

  it('killing the helper mid-gilstat still turns the interceptor off', async () => {
    const doomed = new Session(hog.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await doomed.attach();
    const gil = doomed.startGilstat({ intervalSeconds: 1 });
    await records(gil, 1);
    assert.deepEqual((await observer.call('gilstatState', {})).intercepted, { take_gil: true, drop_gil: true });
    process.kill(doomed.helperPid!, 'SIGKILL');
    await assert.rejects(gil.done, { code: ErrorCode.HelperCrashed });
    await doomed.probesCleanedUp;
    assert.deepEqual((await observer.call('gilstatState', {})).intercepted, { take_gil: false, drop_gil: false });
  });

  it('pyflight gilstat --duration --json: one line per report, an end line, and off afterwards', async () => {
    const child = spawn(process.execPath, [CLI, 'gilstat', String(hog.pid), '--duration', '2.5', '--interval', '1', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python') } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, err);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    const end = lines.at(-1)!;
    assert.equal(end.type, 'end');
    assert.equal(end.data.reason, 'stopped');
    const reports = lines.filter((l) => l.type === 'record').map((l) => l.data as unknown as GilstatRecord);
    assert.equal(reports.length, end.data.count);
    assert.ok(reports.length >= 1, out);
    assert.equal(topHolder(reports.at(-1)!)?.thread, 'gil-hog');
    assert.deepEqual((await observer.call('gilstatState', {})).intercepted, { take_gil: false, drop_gil: false });
  });
});

/**
 * A stripped interpreter: the same fixture on a copy of this machine's libpython with its symbol
 * table removed (`strip`), loaded through LD_LIBRARY_PATH. No take_gil/drop_gil anywhere, so the GIL
 * is sampled with py-spy from outside, and nothing is loaded into the process.
 */
describe('gilstat on a stripped interpreter: sampled, no agent', function () {
  this.timeout(120_000);
  let dir: string;
  let session: Session;

  before(async function () {
    const lib = /=> (\S*libpython\S+)/.exec(execFileSync('ldd', [fs.realpathSync(VENV_PYTHON)], { encoding: 'utf8' }))?.[1];
    if (!lib) this.skip(); // a static interpreter: nothing to strip separately
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyflight-stripped-'));
    execFileSync('strip', ['-o', path.join(dir, path.basename(lib!)), lib!]);
    const saved = process.env.LD_LIBRARY_PATH;
    process.env.LD_LIBRARY_PATH = dir;
    let hog: Target;
    try {
      hog = await startTarget(['gil_hog.py']);
    } finally {
      if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
      else process.env.LD_LIBRARY_PATH = saved;
    }
    session = new Session(hog.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await session.attach();
  });
  after(async () => {
    await session?.detach();
    await stopAllTargets();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports the hog holding the GIL by sampling, says why, and loads no agent', async () => {
    assert.deepEqual((await session.call('gilstatState', {})).symbols, {});
    const gil = session.startGilstat({ intervalSeconds: 1 });
    const [report] = await records(gil, 1);
    assert.equal(report.measure, 'sampled');
    assert.match(report.why ?? '', /stripped interpreter/);
    assert.equal(gil.measure, 'sampled');
    assert.equal(topHolder(report)?.thread, 'gil-hog');
    assert.ok((report.samples ?? 0) > 0);
    gil.stop();
    const summary = await gil.done;
    assert.deepEqual([summary.reason, summary.measure], ['stopped', 'sampled']);
    assert.equal(session.agentLoaded, false);
  });
});
