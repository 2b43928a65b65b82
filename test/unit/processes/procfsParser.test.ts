import assert from 'node:assert/strict';
import {
  isKernelThread, parseBootTime, parseCmdline, parsePasswd, parseProcStat, parseStatusUid, toProcessInfo,
} from '../../../src/processes/procfsParser';
import { recordedFile, recordedProcFile } from './recorded';

// Recorded on 2026-11-25 (README.md): boot at 20:47:16 UTC, the trees started at 21:07:27 UTC.
const BTIME = 1795639636;

describe('procfsParser (recorded /proc)', () => {
  const statCases: Array<[pid: number, comm: string, state: string, ppid: number, startTicks: number, kernel: boolean]> = [
    [2, 'kthreadd', 'S', 0, 22, true],
    [7988, 'gunicorn: maste', 'S', 1, 121149, false],
    [7993, 'py) x (y', 'S', 1, 121149, false],
    [7999, 'gunicorn: worke', 'S', 7988, 121174, false],
    [8007, '[celeryd: celer', 'S', 7992, 121188, false],
    [8017, 'celery', 'S', 7990, 121200, false],
  ];
  for (const [pid, comm, state, ppid, startTicks, kernel] of statCases) {
    it(`parseProcStat ${pid} (${comm})`, () => {
      const stat = parseProcStat(recordedProcFile(pid, 'stat'));
      assert.ok(stat);
      assert.deepEqual({ pid: stat.pid, comm: stat.comm, state: stat.state, ppid: stat.ppid, startTicks: stat.startTicks },
        { pid, comm, state, ppid, startTicks });
      assert.equal(isKernelThread(stat), kernel);
    });
  }

  it('parseProcStat rejects text without a (comm)', () => {
    assert.equal(parseProcStat(''), undefined);
    assert.equal(parseProcStat('12 S 1'), undefined);
  });

  const uidCases: Array<[pid: number, uid: number]> = [[7988, 0], [7991, 1000], [8008, 1000]];
  for (const [pid, uid] of uidCases) {
    it(`parseStatusUid ${pid} → ${uid}`, () => assert.equal(parseStatusUid(recordedProcFile(pid, 'status')), uid));
  }

  const cmdlineCases: Array<[pid: number, argv: string[]]> = [
    [2, []],
    // setproctitle pads the old argv area with NULs: no empty trailing arguments.
    [7988, ['gunicorn: master [wsgi_app:app]']],
    [8007, ['[celeryd: celery@vm:ForkPoolWorker-1]']],
    [7993, ['/tmp/cap/py) x (y', 'sleeper.py']],
    [8000, ['/tmp/pvu/bin/python3', '-B', '-c',
      'from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=7, pipe_handle=9)', '--multiprocessing-fork']],
  ];
  for (const [pid, argv] of cmdlineCases) {
    it(`parseCmdline ${pid}`, () => assert.deepEqual(parseCmdline(recordedProcFile(pid, 'cmdline')), argv));
  }

  it('parseBootTime reads btime from /proc/stat', () => {
    assert.equal(parseBootTime(recordedFile('linux', 'proc', 'stat')), BTIME);
    assert.equal(parseBootTime('cpu 1 2 3\n'), undefined);
  });

  it('parsePasswd maps uids to names', () => {
    const users = parsePasswd(recordedFile('linux', 'etc', 'passwd'));
    assert.equal(users.get(0), 'root');
    assert.equal(users.get(1000), 'cloudsdk');
    assert.equal(users.get(4242), undefined);
  });

  it('toProcessInfo combines the pieces; exe may be unreadable', () => {
    const users = parsePasswd(recordedFile('linux', 'etc', 'passwd'));
    const entry = (pid: number, exeLink?: string) => ({
      stat: parseProcStat(recordedProcFile(pid, 'stat'))!, status: recordedProcFile(pid, 'status'),
      cmdline: recordedProcFile(pid, 'cmdline'), exeLink,
    });
    assert.deepEqual(toProcessInfo(entry(7994, recordedProcFile(7994, 'exe')), { bootTime: BTIME, users }), {
      pid: 7994, ppid: 1, user: 'cloudsdk', uid: 1000, startedAt: 1795640847490,
      rssBytes: 8192 * 1024, commandLine: '/tmp/pvu/bin/python sleeper.py', executable: '/usr/bin/python3.11', isPython: true,
    });
    // Root's process seen by uid 1000: no exe, and the odd argv[0] does not look like Python.
    assert.deepEqual(toProcessInfo(entry(7993), { bootTime: BTIME, users }), {
      pid: 7993, ppid: 1, user: 'root', uid: 0, startedAt: 1795640847490, rssBytes: 13552 * 1024,
      commandLine: '/tmp/cap/py) x (y sleeper.py', isPython: false,
    });
    // Unknown users fall back to the number; kernel threads show [comm] like ps.
    const kthread = toProcessInfo({ ...entry(2), cmdline: '' }, { users: new Map() });
    assert.equal(kthread.user, '0');
    assert.equal(kthread.commandLine, '[kthreadd]');
    assert.equal(kthread.startedAt, undefined);
  });
});
