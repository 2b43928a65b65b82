import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { ErrorCode, PyFlightError } from '../../../src/common/errors';
import type { ProcessInfo } from '../../../src/processes/processInfo';
import { listProcesses } from '../../../src/processes/processLister';
import * as path from 'node:path';
import { RECORDED, recordedProcSource } from './recorded';

type Server = ProcessInfo['server'];
const g = (role: 'master' | 'worker'): Server => ({ kind: 'gunicorn', role });
const u = (role: 'master' | 'worker'): Server => ({ kind: 'uvicorn', role });
const c = (role: 'master' | 'worker'): Server => ({ kind: 'celery', role });
const PY311 = '/usr/bin/python3.11';

/**
 * Every process of the recorded /proc tree (read as uid 1000, so root's exe links are missing).
 * [pid, ppid, user, isPython, server, executable]
 */
const EXPECTED: Array<[number, number, string, boolean, Server, string | undefined]> = [
  [7988, 1, 'root', true, g('master'), undefined], // setproctitle: Python only because it is a server
  [7999, 7988, 'root', true, g('worker'), undefined],
  [8003, 7988, 'root', true, g('worker'), undefined],
  [7989, 1, 'root', true, g('master'), undefined], // no setproctitle: master is the one without a gunicorn parent
  [8002, 7989, 'root', true, g('worker'), undefined],
  [8004, 7989, 'root', true, g('worker'), undefined],
  [7990, 1, 'root', true, c('master'), undefined],
  [8016, 7990, 'root', true, c('worker'), undefined],
  [8017, 7990, 'root', true, c('worker'), undefined],
  [7991, 1, 'cloudsdk', true, u('master'), PY311],
  [7998, 7991, 'cloudsdk', true, undefined, PY311], // multiprocessing resource tracker, not a worker
  [8000, 7991, 'cloudsdk', true, u('worker'), PY311],
  [8001, 7991, 'cloudsdk', true, u('worker'), PY311],
  [7992, 1, 'cloudsdk', true, c('master'), PY311],
  [8007, 7992, 'cloudsdk', true, c('worker'), PY311],
  [8008, 7992, 'cloudsdk', true, c('worker'), PY311],
  [7993, 1, 'root', false, undefined, undefined], // comm "py) x (y", exe unreadable
  [7994, 1, 'cloudsdk', true, undefined, PY311],
  [7995, 1, 'root', false, undefined, undefined], // sleep 3600
];

describe('listProcesses (recorded /proc replay)', () => {
  let listed: ProcessInfo[];
  before(async () => {
    listed = await listProcesses({ platform: 'linux', procSource: recordedProcSource(), selfPid: 7995 });
  });

  it('skips kernel threads and its own pid', () => {
    const pids = listed.map((p) => p.pid);
    assert.ok(!pids.includes(2), 'kthreadd is listed');
    assert.ok(!pids.includes(7995), 'own pid is listed');
    assert.deepEqual([...pids].sort(), EXPECTED.map(([pid]) => pid).filter((pid) => pid !== 7995).sort());
  });

  for (const [pid, ppid, user, isPython, server, executable] of EXPECTED.filter(([pid]) => pid !== 7995)) {
    it(`${pid}: ${user}, ${isPython ? 'Python' : 'not Python'}${server ? `, ${server.kind} ${server.role}` : ''}`, () => {
      const p = listed.find((q) => q.pid === pid);
      assert.ok(p, `pid ${pid} missing`);
      assert.deepEqual([p.ppid, p.user, p.isPython, p.server, p.executable], [ppid, user, isPython, server, executable]);
    });
  }

  it('keeps the last recorded process when it is not us', async () => {
    const all = await listProcesses({ platform: 'linux', procSource: recordedProcSource(), selfPid: 1 });
    assert.equal(all.find((p) => p.pid === 7995)?.commandLine, 'sleep 3600');
  });

  it('throws UnsupportedPlatform on Windows', async () => {
    await assert.rejects(listProcesses({ platform: 'win32' }),
      (e: unknown) => e instanceof PyFlightError && e.code === ErrorCode.UnsupportedPlatform);
  });
});

// A development server's reloader (flask run --debug) and the app it restarts share a command line,
// like the forks of a multiprocessing.Pool; the reloader's variable in the child's environment tells
// them apart (reloader/ in the recordings' README).
describe('listProcesses: a reloader and its app (recorded /proc, with environ)', () => {
  it('the reloader is a master, the app its one worker; a fork pool is neither', async () => {
    const listed = await listProcesses({ platform: 'linux', procSource: recordedProcSource(path.join(RECORDED, 'reloader')), selfPid: 1 });
    const roles = Object.fromEntries(listed.map((p) => [p.pid, p.server ? `${p.server.kind} ${p.server.role}` : 'none']));
    assert.deepEqual(roles, { 28434: 'reloader master', 28465: 'reloader worker', 28436: 'none', 28448: 'none', 28449: 'none', 28450: 'none' });
    assert.equal(listed.find((p) => p.pid === 28465)?.commandLine, listed.find((p) => p.pid === 28434)?.commandLine);
  });
});

describe('listProcesses on this machine (live)', function () {
  this.timeout(15_000);
  let child: ChildProcess;
  const code = "print('ready', flush=True); import time; time.sleep(30)";
  before(async function () {
    if (process.platform !== 'linux' && process.platform !== 'darwin') this.skip();
    child = spawn('python3', ['-c', code], { stdio: ['ignore', 'pipe', 'ignore'] });
    // Wait for the interpreter itself: `python3` may be a shim (pyenv) that execs it later.
    await new Promise((resolve, reject) => {
      child.stdout?.once('data', resolve);
      child.once('error', reject);
    });
  });
  after(() => child?.kill());

  // On Linux the 'darwin' branch runs the real procps `ps` with the macOS flags.
  for (const platform of ['linux', 'darwin'] as const) {
    it(`${platform} lister finds a python3 child and leaves out its own pid`, async function () {
      if (platform === 'linux' && process.platform !== 'linux') this.skip();
      const listed = await listProcesses({ platform });
      assert.equal(listed.find((p) => p.pid === process.pid), undefined);
      const found = listed.find((p) => p.pid === child.pid);
      assert.ok(found, `python3 child ${child.pid} not listed`);
      assert.ok(found.commandLine.endsWith(` -c ${code}`), found.commandLine);
      assert.deepEqual([found.ppid, found.isPython, found.uid], [process.pid, true, process.getuid?.()]);
      assert.ok(found.startedAt && Math.abs(found.startedAt - Date.now()) < 60_000, `startedAt ${found.startedAt}`);
    });
  }
});
