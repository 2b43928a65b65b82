import assert from 'node:assert/strict';
import {
  buildPickerEntries, byRecency, formatAge, parsePid, shortCommand, type PickerEntry,
} from '../../../src/processes/pickerItems';
import { parseCmdline } from '../../../src/processes/procfsParser';
import type { ProcessInfo } from '../../../src/processes/processInfo';
import { listProcesses } from '../../../src/processes/processLister';
import { recordedProcFile, recordedProcSource } from './recorded';

const commandLineOf = (pid: number) => parseCmdline(recordedProcFile(pid, 'cmdline')).join(' ');
// Start of the recorded trees (btime + 121149 ticks), see procfsParser.test.ts.
const STARTED = 1795640847490;

/** A compact view of entries: `-- section`, or `pid place age`. */
function outline(entries: PickerEntry[]): string[] {
  return entries.map((e) => e.type === 'separator'
    ? `-- ${e.section}${e.section === 'server' ? ` ${e.kind} ${e.masterPid}` : ''}`
    : `${e.process.pid} ${e.place} ${e.age ?? '?'}`);
}

describe('pickerItems', () => {
  const ages: Array<[elapsedMs: number | undefined, text: string | undefined]> = [
    [undefined, undefined], [-5000, '0s'], [0, '0s'], [59_999, '59s'], [60_000, '1m'], [5 * 60_000 + 30_000, '5m'],
    [3_599_999, '59m'], [3_600_000, '1h'], [2 * 3_600_000 + 1, '2h'], [86_400_000, '1d'], [3 * 86_400_000 + 5, '3d'],
  ];
  for (const [elapsed, text] of ages) {
    it(`formatAge(${elapsed}) → ${text}`, () => {
      assert.equal(formatAge(elapsed === undefined ? undefined : STARTED, STARTED + (elapsed ?? 0)), text);
    });
  }

  const shorts: Array<[pid: number, short: string]> = [
    [7989, 'gunicorn -w 2 -b 127.0.0.1:18002 wsgi_app:app'], // console script next to its python
    [7994, 'python sleeper.py'],
    [7988, 'gunicorn: master [wsgi_app:app]'],
    [7995, 'sleep 3600'],
    [7993, 'py) x (y sleeper.py'],
    [8000, 'python3 -B -c from multiprocessing.spawn import spawn_main;…'],
  ];
  for (const [pid, short] of shorts) {
    it(`shortCommand(${pid}) → ${short}`, () => {
      assert.equal(shortCommand(commandLineOf(pid)), short);
      assert.ok(short.length <= 60);
    });
  }

  it('byRecency: newest first, unknown start last, then higher pid', () => {
    const p = (pid: number, startedAt?: number): ProcessInfo => ({ pid, ppid: 1, user: 'u', commandLine: '', isPython: true,
      ...(startedAt === undefined ? {} : { startedAt }) });
    assert.deepEqual([p(1, 10), p(2), p(3, 30), p(4, 10), p(5)].sort(byRecency).map((x) => x.pid), [3, 4, 1, 5, 2]);
  });

  describe('buildPickerEntries on the recorded process list', () => {
    let processes: ProcessInfo[];
    before(async () => {
      processes = await listProcesses({ platform: 'linux', procSource: recordedProcSource(), selfPid: 0 });
    });
    const now = STARTED + 5 * 60_000 + 30_000;

    it('puts Python first by start time, each server as master then its workers, then the rest', () => {
      assert.deepEqual(outline(buildPickerEntries(processes, { showAllProcesses: true, now })), [
        '-- python',
        '7998 python 5m', // the uvicorn resource tracker started 0.25 s after the masters
        '7994 python 5m',
        '-- server celery 7992',
        '7992 master 5m',
        '8007 worker 5m',
        '8008 worker 5m',
        '-- server uvicorn 7991',
        '7991 master 5m',
        '8000 worker 5m',
        '8001 worker 5m',
        '-- server celery 7990',
        '7990 master 5m',
        '8016 worker 5m',
        '8017 worker 5m',
        '-- server gunicorn 7989',
        '7989 master 5m',
        '8002 worker 5m',
        '8004 worker 5m',
        '-- server gunicorn 7988',
        '7988 master 5m',
        '7999 worker 5m',
        '8003 worker 5m',
        '-- other',
        '7995 other 5m',
        '7993 other 5m',
      ]);
    });

    it('leaves the other processes out unless asked', () => {
      const entries = buildPickerEntries(processes, { showAllProcesses: false, now });
      assert.ok(!outline(entries).includes('-- other'));
      assert.equal(entries.filter((e) => e.type === 'process').length, 17);
    });

    it('repeats the Python heading after a server group', () => {
      const later = processes.map((p) => (p.pid === 7994 ? { ...p, startedAt: STARTED - 1000 } : p));
      const lines = outline(buildPickerEntries(later, { showAllProcesses: false, now }));
      assert.deepEqual(lines.slice(-3), ['8003 worker 5m', '-- python', '7994 python 5m']);
    });

    it('shows a worker whose master is not listed as a plain Python process', () => {
      const orphan = processes.filter((p) => p.pid === 8007);
      assert.deepEqual(outline(buildPickerEntries(orphan, { showAllProcesses: false, now })), ['-- python', '8007 python 5m']);
    });
  });

  const pids: Array<[string, number | undefined]> = [
    ['7988', 7988], [' 42 ', 42], ['0', undefined], ['-1', undefined], ['1.5', undefined], ['abc', undefined], ['', undefined],
    ['99999999999999999999', undefined],
  ];
  for (const [text, pid] of pids) {
    it(`parsePid(${JSON.stringify(text)}) → ${pid}`, () => assert.equal(parsePid(text), pid));
  }
});
