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
});
