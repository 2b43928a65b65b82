import assert from 'node:assert/strict';
import { cpuUseBetween, starvation, type CpuSnapshot } from '../../src/diagnose/cpuUse';
import type { QuickEvidence } from '../../src/diagnose/quickEvidence';
import { summaryFrom, type Finding } from '../../src/diagnose/report';
import { routeByEvidence } from '../../src/diagnose/routing';
import { parseCpusAllowed, parseSchedstat, type ProcStat } from '../../src/processes/procfsParser';

const stat = (ticks: number): ProcStat => ({ pid: 7, comm: 'python', state: 'R', ppid: 1, flags: 0, utime: ticks, stime: 0, startTicks: 5 });
const snap = (at: number, ticks: number, waits: Array<[number, number]>, allowedCpus?: number): CpuSnapshot =>
  ({ at, stat: stat(ticks), waitNs: new Map(waits), ...(allowedCpus ? { allowedCpus } : {}) });
/** A snapshot with each thread's [tid, ran ns, waited ns], as schedstat gives them. */
const threads = (at: number, ticks: number, ts: Array<[number, number, number]>): CpuSnapshot =>
  ({ at, stat: stat(ticks), runNs: new Map(ts.map(([t, r]) => [t, r])), waitNs: new Map(ts.map(([t, , w]) => [t, w])) });

describe('CPU use: run-queue delay beside CPU time (issue 20, item 1)', () => {
  it('parses schedstat and the CPU affinity list', () => {
    assert.deepEqual(parseSchedstat('33490038 161425731 137\n'), { runNs: 33490038, waitNs: 161425731 });
    assert.equal(parseSchedstat('garbage'), undefined);
    assert.equal(parseCpusAllowed('Name:\tpython\nCpus_allowed_list:\t0-3,8\n'), 5);
    assert.equal(parseCpusAllowed('Cpus_allowed_list:\t1\n'), 1);
    assert.equal(parseCpusAllowed('Name:\tpython\n'), undefined);
  });

  it('sums each thread\'s increase; a thread born in the window counts all of its delay', () => {
    // 2 s; the process ran 50 ticks (0.5 s = 25% of a core); thread 7 waited 1.2 s more, thread 9 (new) 0.2 s.
    const use = cpuUseBetween(snap(0, 100, [[7, 5e9]]), snap(2000, 150, [[7, 6.2e9], [9, 0.2e9]], 1), { cpus: 2, load1: 6.5 });
    assert.equal(use.cpuPercent, 25);
    assert.equal(Math.round(use.readyPercent!), 70);
    const s = starvation(use)!;
    assert.equal(s.text, 'the process was ready to run 70% of the time but the 1 CPU it may run on (its CPU affinity; the machine has 2) was busy (load average 6.5): the host is overloaded');
    assert.match(s.measured, /ran 25% of a core .* another 70%/);
    const unpinned = starvation({ ...use, allowedCpus: 2 })!;
    assert.match(unpinned.text, /^the process was ready to run 70% of the time but the machine's 2 CPUs were busy \(load average 6\.5\): the host is overloaded$/);
  });

  it('is not starvation: a CPU-bound process with a little run-queue delay, or an idle one', () => {
    assert.equal(starvation({ seconds: 2, cpuPercent: 95, readyPercent: 8, machine: { cpus: 2 } }), undefined);
    assert.equal(starvation({ seconds: 2, cpuPercent: 60, readyPercent: 25, machine: { cpus: 2 } }), undefined);
    assert.equal(starvation({ seconds: 2, cpuPercent: 3, readyPercent: 2, machine: { cpus: 2 } }), undefined);
    // Many threads that mostly sleep add up short waits after each wake-up: waiting, not starved.
    assert.equal(starvation({ seconds: 2, cpuPercent: 10, readyPercent: 25, machine: { cpus: 2 } }), undefined);
    assert.equal(starvation({ seconds: 2, cpuPercent: 20 }), undefined);
    assert.match(starvation({ seconds: 2, cpuPercent: 60, readyPercent: 140, machine: { cpus: 2 } })!.text,
      /^the process's threads were ready to run 140% of a core's time \(several at once\) but the machine's 2 CPUs were busy: the host is overloaded$/);
  });

  it('is judged on the threads that wanted a CPU: many threads that mostly sleep are waiting, one busy thread that waits is starved', () => {
    // checkout_service.py at load 5.5: 6 threads over 2 s, each ran 20 ms and waited 150 ms after its wake-ups: 46 % ready beside 6 % CPU.
    const sleepy = cpuUseBetween(threads(0, 0, [1, 2, 3, 4, 5, 6].map((t) => [t, 0, 0])),
      threads(2000, 12, [1, 2, 3, 4, 5, 6].map((t) => [t, 20e6, 153e6])), { cpus: 2, load1: 5.5 });
    assert.equal(Math.round(sleepy.readyPercent!), 46);
    assert.deepEqual(sleepy.hungry, { threads: 0, runPercent: 0, readyPercent: 0 });
    assert.equal(starvation(sleepy), undefined);
    // One thread that ran 0.5 s and waited 1.4 s of 2 s (and five sleepy ones): starved.
    const busy = cpuUseBetween(threads(0, 0, [[1, 0, 0], [2, 0, 0]]), threads(2000, 52, [[1, 0.5e9, 1.4e9], [2, 20e6, 150e6]]), { cpus: 2, load1: 7 });
    assert.equal(busy.hungry?.threads, 1);
    assert.match(starvation(busy)!.text, /^the process was ready to run 78% of the time/);
  });

  it('routing: a starved process is busy (slow), says so, and is not taken for GIL contention', () => {
    const base: QuickEvidence = { cpuPercent: 20, rssBefore: 1, rssAfter: 1, intervalMs: 2000, torchLoaded: false, samples: [],
      use: { seconds: 2, cpuPercent: 20, readyPercent: 65, machine: { cpus: 2, load1: 7 } } };
    const routed = routeByEvidence(base);
    assert.equal(routed.kind, 'slow');
    assert.match(routed.routedBy, /busy on the CPU, and starved of it: the process was ready to run 65% of the time but the machine's 2 CPUs were busy \(load average 7\.0\): the host is overloaded/);
    assert.match(routed.routedBy, /ready to run but waiting for a CPU 65% of a core/);
  });
});

describe('summaryFrom: the summary is written from the first finding (issue 20, item 3)', () => {
  const f = (about: Finding['about'], title: string, fn = 'f'): Finding => ({ about, title, severity: 'high', location: { function: fn, file: '/a/svc.py', line: 9 }, evidence: [], next_steps: [] });
  it('lock words only for a lock; the loop and CPU findings in their own words', () => {
    assert.equal(summaryFrom([f('event-loop', 'The asyncio event loop (MainThread) is blocked in fetch (svc.py:9, sleeping)'), f('lock', 'x holds L')]),
      'The asyncio event loop (MainThread) is blocked in fetch (svc.py:9, sleeping).');
    assert.equal(summaryFrom([f('lock', 'w holds L while in g (sleeping)')]), 'Threads wait on a lock: w holds L while in g (sleeping).');
    assert.equal(summaryFrom([f('cpu', 'f uses 90.0% of CPU samples in its own code')]), 'CPU-bound: f uses 90.0% of CPU samples in its own code, at svc.py:9.');
    assert.equal(summaryFrom([f('deadlock', 'Deadlock: a waits for L')]), 'Deadlock: a waits for L.');
    assert.equal(summaryFrom([f('starved', 'Starved of CPU: x'), f('cpu', 'score uses 9%', 'score')]), 'Starved of CPU: x. When it runs, its CPU goes mostly to score (svc.py:9).');
    assert.equal(summaryFrom([f('event-loop', 'The asyncio event loop (M) is blocked in g')], 'Waiting, not computing'), 'Waiting, not computing: The asyncio event loop (M) is blocked in g.');
  });
});
