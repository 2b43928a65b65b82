import assert from 'node:assert/strict';
import { parsePsComm, parsePsOutput, parsePsRows } from '../../../src/processes/psParser';
import { listProcesses } from '../../../src/processes/processLister';
import { detectServers } from '../../../src/processes/pythonDetection';
import { recordedFile, recordedProcSource } from './recorded';

// Linux procps output (no Mac was available); see README.md for the exact commands.
const ROWS = recordedFile('ps', 'ps-linux-procps.txt');
const COMM = recordedFile('ps', 'ps-comm-linux-procps.txt');
// ps prints local time; the recording machine ran in UTC at 21:07:27 on 2026-11-25.
const at = (h: number, m: number, s: number) => new Date(2026, 10, 25, h, m, s).getTime();

describe('psParser (recorded procps output)', () => {
  it('parses every line', () => {
    assert.equal(parsePsRows(ROWS).length, ROWS.trim().split('\n').length);
    assert.equal(parsePsComm(COMM).size, COMM.trim().split('\n').length);
  });

  const rowCases: Array<[pid: number, ppid: number, uid: number, user: string, startedAt: number, args: string]> = [
    [2, 0, 0, 'root', at(20, 47, 16), '[kthreadd]'],
    [7988, 1, 0, 'root', at(21, 7, 27), 'gunicorn: master [wsgi_app:app]'],
    [7992, 1, 1000, 'cloudsdk', at(21, 7, 27),
      '[celeryd: celery@vm:MainProcess] -active- (-A tasks worker --pool prefork -c 2 --without-mingle --without-gossip --without-heartbeat)'],
    [7993, 1, 0, 'root', at(21, 7, 27), '/tmp/cap/py) x (y sleeper.py'],
    [8017, 7990, 0, 'root', at(21, 7, 28),
      '/tmp/pvn/bin/python3 /tmp/pvn/bin/celery -A tasks worker --pool prefork -c 2 --without-mingle --without-gossip --without-heartbeat'],
  ];
  for (const [pid, ppid, uid, user, startedAt, args] of rowCases) {
    it(`row ${pid}`, () => {
      assert.deepEqual(parsePsRows(ROWS).find((r) => r.pid === pid), { pid, ppid, uid, user, startedAt, args });
    });
  }

  const commCases: Array<[pid: number, comm: string]> = [[7988, 'gunicorn: maste'], [7993, 'py) x (y'], [7991, 'uvicorn'], [8000, 'python3']];
  for (const [pid, comm] of commCases) {
    it(`comm ${pid} → ${comm}`, () => assert.equal(parsePsComm(COMM).get(pid), comm));
  }

  it('isPython from comm or argv[0], before server detection', () => {
    const byPid = new Map(parsePsOutput(ROWS, COMM).map((p) => [p.pid, p]));
    const cases: Array<[number, boolean]> = [[7988, false], [7989, true], [7991, true], [7993, false], [7994, true], [7995, false], [8007, false]];
    assert.deepEqual(cases.map(([pid]) => [pid, byPid.get(pid)?.isPython]), cases);
  });

  it('finds the same servers and roles as the /proc lister for the same processes', async () => {
    const fromProc = await listProcesses({ platform: 'linux', procSource: recordedProcSource(), selfPid: 0 });
    const fromPs = new Map(detectServers(parsePsOutput(ROWS, COMM)).map((p) => [p.pid, p]));
    for (const p of fromProc) {
      assert.deepEqual([p.pid, fromPs.get(p.pid)?.server, fromPs.get(p.pid)?.isPython, fromPs.get(p.pid)?.user],
        [p.pid, p.server, p.isPython, p.user]);
    }
    assert.equal([...fromPs.values()].filter((p) => p.server).length, 15);
  });

  it('ignores lines that do not match', () => {
    assert.deepEqual(parsePsOutput('garbage\n\n  PID  PPID\n'), []);
  });
});
