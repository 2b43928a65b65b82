import assert from 'node:assert/strict';
import { cpuLimitOf, cpuUseBetween, notStarvedText, starvation, type CpuSnapshot } from '../../src/diagnose/cpuUse';
import { cgroupDirs, cgroupPathOf, cpuCgroupMounts } from '../../src/host/cgroup';
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

  it('counts the CPU its own children ran meanwhile (a pool\'s workers): said beside an overloaded host (judge 14)', () => {
    // 2 s; two children ran 80 and 100 ticks (0.8 s, 1.0 s: 40% and 50% of a core); a third was born in between (not counted).
    const before = { ...snap(0, 100, [[7, 5e9]]), children: new Map([[11, stat(0)], [12, stat(50)]]) };
    const after = { ...snap(2000, 150, [[7, 6.2e9]]), children: new Map([[11, stat(80)], [12, stat(150)], [13, stat(500)]]) };
    const use = cpuUseBetween(before, after, { cpus: 2, load1: 3.2 });
    assert.deepEqual(use.children, { count: 2, cpuPercent: 90 });
    const s = starvation(use)!;
    assert.equal(s.text, 'the process was ready to run 60% of the time but the machine\'s 2 CPUs were busy (load average 3.2): the host is overloaded; its own 2 child processes ran 0.9 CPUs of it meanwhile');
    assert.equal(s.short, 'the host is overloaded, its own child processes among the load');
    const idle = cpuUseBetween({ ...before, children: new Map([[11, stat(0)]]) }, { ...after, children: new Map([[11, stat(10)]]) }, { cpus: 2, load1: 3.2 });
    assert.equal(starvation(idle)!.short, 'the host is overloaded');
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
    assert.equal(sleepy.busyThreads, 0);
    assert.deepEqual(sleepy.hungry, { runPercent: 0, readyPercent: 0 });
    assert.equal(starvation(sleepy), undefined);
    // One thread that ran 0.5 s and waited 1.4 s of 2 s (and five sleepy ones): starved.
    const busy = cpuUseBetween(threads(0, 0, [[1, 0, 0], [2, 0, 0]]), threads(2000, 52, [[1, 0.5e9, 1.4e9], [2, 20e6, 150e6]]), { cpus: 2, load1: 7 });
    assert.equal(busy.busyThreads, 1);
    assert.match(starvation(busy)!.text, /^the process was ready to run 78% of the time/);
  });

  it('work spread over a pool is starved when its threads wanted a core and waited as long as they ran', () => {
    // Judge 4's uvicorn worker at load 7: its request threads (anyio's pool) each busy under half of
    // the 13.8 s, 21 % of a core run and 114 % ready in all — starved, not "mostly waiting".
    const pool = { seconds: 13.8, cpuPercent: 21, readyPercent: 114, busyThreads: 0, hungry: { runPercent: 0, readyPercent: 0 }, machine: { cpus: 2, load1: 7.1 } };
    const s = starvation(pool)!;
    assert.equal(s.cause, 'host');
    assert.match(s.text, /ready to run 114% of a core's time \(several at once\) but the machine's 2 CPUs were busy \(load average 7\.1\): the host is overloaded$/);
    assert.equal(notStarvedText({ ...pool, readyPercent: 40 }), 'the process ran 21% of a core and its threads were ready to run but waiting for a CPU 40% (run-queue delay), in short waits of threads that mostly sleep (none was busy half the time): not starvation');
    // A busy thread that got its CPU beside sleepy ones that waited: said as such, not "it got the CPU it asked for" under a larger wait.
    assert.equal(notStarvedText({ seconds: 10, cpuPercent: 59, readyPercent: 64, busyThreads: 1, hungry: { runPercent: 55, readyPercent: 12 }, machine: { cpus: 2 } }),
      'the process ran 59% of a core and its threads were ready to run but waiting for a CPU 64% (run-queue delay), but its 1 busy thread waited only 12% beside running 55%: the rest is short waits of threads that mostly sleep, not starvation');
    assert.equal(notStarvedText({ seconds: 10, cpuPercent: 95, readyPercent: 8 }), 'the process ran 95% of a core and its threads were ready to run but waiting for a CPU 8% (run-queue delay): it got the CPU it asked for');
  });

  it('its own threads outnumbering its CPUs: CPU-bound, not an overloaded host (4 busy threads on 2 CPUs)', () => {
    // An idle host: it runs both CPUs and its threads wait as long again.
    const alone = starvation({ seconds: 2, cpuPercent: 195, readyPercent: 190, busyThreads: 4, machine: { cpus: 2, load1: 4 } })!;
    assert.equal(alone.cause, 'own-threads');
    assert.equal(alone.short, "its 4 busy threads contend for the machine's 2 CPUs");
    assert.match(alone.text, /^the process's own 4 busy threads wanted 3\.9 CPUs and it may use 2 CPUs: it is CPU-bound and its threads wait for each other, not starved by an overloaded host$/);
    // A loaded host too (measured here: 43% run, 316% ready at load 8.9): still its own threads first, the others said.
    const loaded = starvation({ seconds: 5, cpuPercent: 43, readyPercent: 316, busyThreads: 4, machine: { cpus: 2, load1: 8.9 } })!;
    assert.equal(loaded.cause, 'own-threads');
    assert.match(loaded.text, /\(other processes took up to 1\.6 of them too\)$/);
    // One busy thread (it wants at most one CPU): the host, pinned or not.
    assert.equal(starvation({ seconds: 2, cpuPercent: 21, readyPercent: 63, busyThreads: 1, allowedCpus: 1, machine: { cpus: 2 } })!.cause, 'host');
    assert.equal(starvation({ seconds: 2, cpuPercent: 30, readyPercent: 75, busyThreads: 1, machine: { cpus: 2 } })!.cause, 'host');
    // Two threads on two CPUs would not wait on an idle host: the host.
    assert.equal(starvation({ seconds: 2, cpuPercent: 60, readyPercent: 140, busyThreads: 2, machine: { cpus: 2 } })!.cause, 'host');
    // Pinned to one CPU with 3 busy threads: its own.
    const pinned = starvation({ seconds: 2, cpuPercent: 90, readyPercent: 200, busyThreads: 3, allowedCpus: 1, machine: { cpus: 2 } })!;
    assert.equal(pinned.cause, 'own-threads');
    assert.equal(pinned.short, 'its 3 busy threads contend for the 1 CPU it may run on (its CPU affinity)');
  });

  it('a cgroup CPU quota that throttles it: held back by its container\'s limit, not an overloaded host', () => {
    const limit = { cpus: 0.5, path: '/docker/ab', version: 2 as const, periods: 30, throttledPeriods: 29, throttledMs: 1400 };
    const s = starvation({ seconds: 3, cpuPercent: 50, readyPercent: 50, busyThreads: 1, cpuLimit: limit, machine: { cpus: 2, load1: 1 } })!;
    assert.equal(s.cause, 'quota');
    assert.equal(s.short, "throttled by its container's CPU limit (0.5 CPU)");
    assert.match(s.measured, /Its cgroup \/docker\/ab may use 0\.5 CPU \(cpu\.max\) and was throttled in 29 of 30 scheduling periods \(1\.4 s throttled\) \(cpu\.stat\)\.$/);
    // Throttled whatever the run-queue delay says (a kernel that does not count throttled time as a wait).
    assert.equal(starvation({ seconds: 3, cpuPercent: 50, readyPercent: 3, cpuLimit: limit, machine: { cpus: 2 } })!.cause, 'quota');
    // Rarely throttled: not the cause; a quota nobody reaches: not either.
    assert.equal(starvation({ seconds: 3, cpuPercent: 50, readyPercent: 3, cpuLimit: { ...limit, throttledPeriods: 2 }, machine: { cpus: 2 } }), undefined);
    assert.equal(starvation({ seconds: 3, cpuPercent: 30, readyPercent: 70, cpuLimit: { ...limit, cpus: 4, throttledPeriods: 0 }, machine: { cpus: 2 } })!.cause, 'host');
  });

  it('reads the cgroup quota: v2 cpu.max, v1 cfs files, the tightest of the levels, throttling counters between snapshots', () => {
    const v2 = cpuLimitOf([
      { version: 2, path: '/a/b', files: { 'cpu.max': 'max 100000\n', 'cpu.stat': 'usage_usec 5\nnr_periods 10\nnr_throttled 3\nthrottled_usec 200000\n' } },
      { version: 2, path: '/a', files: { 'cpu.max': '50000 100000\n', 'cpu.stat': 'usage_usec 5\nnr_periods 40\nnr_throttled 30\nthrottled_usec 900000\n' } },
      { version: 2, path: '/', files: { 'cpu.stat': 'usage_usec 5\n' } },
    ])!;
    assert.deepEqual(v2, { cpus: 0.5, path: '/a', version: 2, stat: { periods: 40, throttled: 30, throttledUs: 900000 } });
    const v1 = cpuLimitOf([{ version: 1, path: '/x', files: { 'cpu.cfs_quota_us': '20000\n', 'cpu.cfs_period_us': '100000\n',
      'cpu.stat': 'nr_periods 11\nnr_throttled 10\nthrottled_time 304144702\nnr_bursts 0\n' } }, { version: 1, path: '/', files: { 'cpu.cfs_quota_us': '-1\n', 'cpu.cfs_period_us': '100000\n' } }])!;
    assert.deepEqual(v1, { cpus: 0.2, path: '/x', version: 1, stat: { periods: 11, throttled: 10, throttledUs: 304144.702 } });
    assert.equal(cpuLimitOf([{ version: 2, path: '/', files: { 'cpu.max': 'max 100000' } }]), undefined);
    const before: CpuSnapshot = { at: 0, stat: stat(100), waitNs: new Map([[7, 0]]), runNs: new Map([[7, 0]]), cpuLimit: v1 };
    const after: CpuSnapshot = { at: 3000, stat: stat(160), waitNs: new Map([[7, 1.4e9]]), runNs: new Map([[7, 0.6e9]]),
      cpuLimit: { ...v1, stat: { periods: 41, throttled: 40, throttledUs: 1304144.702 } } };
    const use = cpuUseBetween(before, after, { cpus: 2 });
    assert.deepEqual(use.cpuLimit, { cpus: 0.2, path: '/x', version: 1, periods: 30, throttledPeriods: 30, throttledMs: 1000 });
    assert.equal(use.busyThreads, 1);
    assert.equal(starvation(use)!.cause, 'quota');
  });

  it('finds the CPU cgroup: mountinfo, /proc/<pid>/cgroup (hybrid v1 + v2, pure v2, a container\'s own mount)', () => {
    const hybrid = '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n'
      + '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n';
    assert.deepEqual(cpuCgroupMounts(hybrid), [{ version: 1, mountPoint: '/sys/fs/cgroup/cpu', root: '/' }, { version: 2, mountPoint: '/sys/fs/cgroup/unified', root: '/' }]);
    const procCgroup = '9:name=systemd:/\n4:memory:/m\n1:cpu:/pyflight-test\n0::/\n';
    assert.equal(cgroupPathOf(procCgroup, 1), '/pyflight-test');
    assert.equal(cgroupPathOf(procCgroup, 2), '/');
    assert.equal(cgroupPathOf('0::/system.slice/x.service\n', 1), undefined);
    assert.equal(cgroupPathOf('4:cpu,cpuacct:/docker/ab\n', 1), '/docker/ab');
    assert.deepEqual(cgroupDirs({ version: 2, mountPoint: '/sys/fs/cgroup', root: '/' }, '/system.slice/x.service'), [
      { dir: '/sys/fs/cgroup/system.slice/x.service', path: '/system.slice/x.service' },
      { dir: '/sys/fs/cgroup/system.slice', path: '/system.slice' },
      { dir: '/sys/fs/cgroup', path: '/' },
    ]);
    // A mount whose top is a container's cgroup: no parents above it, nothing outside it.
    assert.deepEqual(cgroupDirs({ version: 2, mountPoint: '/proc/9/root/sys/fs/cgroup', root: '/docker/ab' }, '/docker/ab'),
      [{ dir: '/proc/9/root/sys/fs/cgroup', path: '/docker/ab' }]);
    assert.deepEqual(cgroupDirs({ version: 2, mountPoint: '/sys/fs/cgroup', root: '/docker/ab' }, '/other'), []);
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
    assert.equal(summaryFrom([{ ...f('starved', 'Starved of CPU: x'), location: null }, f('cpu', 'score uses 9%', 'score')]), 'Starved of CPU: x. When it runs, its CPU goes mostly to score (svc.py:9).');
    // The culprit leads: a starved finding with a location names its function in the title (slow.ts).
    assert.equal(summaryFrom([f('starved', 'score uses the CPU — and the process waited for a CPU 61% of the time: the host is overloaded', 'score')]),
      'score uses the CPU — and the process waited for a CPU 61% of the time: the host is overloaded, at svc.py:9.');
    // After a verdict's colon a plain word loses its capital (judge 4), a name keeps it.
    assert.equal(summaryFrom([f('event-loop', 'The asyncio event loop (M) is blocked in g')], 'Waiting, not computing'), 'Waiting, not computing: the asyncio event loop (M) is blocked in g.');
    assert.equal(summaryFrom([f('wait', 'Thermostat.poll waits on a socket')], 'Waiting, not computing'), 'Waiting, not computing: Thermostat.poll waits on a socket.');
  });
});
