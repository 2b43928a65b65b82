/**
 * How much CPU a process used over a window, and how long its threads were ready to run but not
 * running: the run-queue delay of every thread (/proc/<pid>/task/<tid>/schedstat, its second field),
 * read through the target's host over the same window as its CPU time (/proc/<pid>/stat). Every CPU
 * judgement of the diagnosis reads both: a process that used 23 % of a core on a loaded machine may
 * have wanted 95 % — it is starved, not waiting on a remote service.
 */
import type { CgroupCpuLevel, MachineLoad, TargetProcess } from '../host/targetHost';
import { cpuPercent, parseCpusAllowed, parseProcStat, parseSchedstat, parseStatusRss, type ProcStat } from '../processes/procfsParser';
import { plural } from '../format/probeText';

/** One reading of a process's CPU counters. */
export interface CpuSnapshot {
  stat?: ProcStat;
  rss?: number;
  /** CPUs the process may run on (its affinity), from /proc/<pid>/status. */
  allowedCpus?: number;
  /** Run-queue delay so far, ns, by thread id; undefined where schedstat cannot be read. */
  waitNs?: Map<number, number>;
  /** CPU time so far, ns, by thread id (schedstat's first field). */
  runNs?: Map<number, number>;
  /** The tightest CPU limit of its cgroup and its parents, with that cgroup's throttling counters. */
  cpuLimit?: CpuLimit;
  /** Its child processes' /proc stat (a pool's workers, a server's workers), by pid. */
  children?: Map<number, ProcStat>;
  at: number;
}

/** A cgroup's CPU quota (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`) and its `cpu.stat` counters. */
export interface CpuLimit {
  /** The quota in CPUs (50000 of 100000 µs: 0.5). */
  cpus: number;
  /** The cgroup that sets it. */
  path: string;
  version: 1 | 2;
  /** Scheduling periods so far, those in which it was throttled, and the time throttled (µs); undefined when cpu.stat is unreadable. */
  stat?: { periods: number; throttled: number; throttledUs: number };
}

/** The tightest CPU quota among the levels (leaf first) of targetHost.cpuCgroup; undefined when none is set. */
export function cpuLimitOf(levels: readonly CgroupCpuLevel[]): CpuLimit | undefined {
  let best: CpuLimit | undefined;
  for (const level of levels) {
    let quota: number | undefined;
    let period: number | undefined;
    if (level.version === 2) {
      const [q, p] = (level.files['cpu.max'] ?? '').trim().split(/\s+/);
      if (q && q !== 'max') { quota = Number(q); period = Number(p ?? 100000); }
    } else {
      quota = Number(level.files['cpu.cfs_quota_us']);
      period = Number(level.files['cpu.cfs_period_us']);
    }
    if (!(quota! > 0) || !(period! > 0)) continue;
    const cpus = quota! / period!;
    if (best && best.cpus <= cpus) continue;
    const stat = level.files['cpu.stat'];
    const field = (name: string) => { const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(stat ?? ''); return m ? Number(m[1]) : undefined; };
    const periods = field('nr_periods');
    const throttled = field('nr_throttled');
    // v2 counts the time throttled in µs, v1 in ns.
    const throttledUs = level.version === 2 ? field('throttled_usec') : (field('throttled_time') ?? NaN) / 1000;
    best = { cpus, path: level.path, version: level.version,
      ...(periods !== undefined && throttled !== undefined && Number.isFinite(throttledUs) ? { stat: { periods, throttled, throttledUs: throttledUs! } } : {}) };
  }
  return best;
}

/** What the process did with the CPU over a window. */
export interface CpuUse {
  seconds: number;
  /** Percent of one core it ran (its CPU time); undefined where /proc cannot tell. */
  cpuPercent?: number;
  /** Percent of one core's time its threads were runnable but waited for a CPU (summed over threads). */
  readyPercent?: number;
  /** CPUs it may run on (its affinity). */
  allowedCpus?: number;
  /** Its threads that ran or were ready to run at least half the window (from schedstat). */
  busyThreads?: number;
  /**
   * Those busy threads' run and run-queue percent of a core: starvation is judged on these. Threads
   * that mostly sleep add a short wait after each wake-up, which on a busy host sums to a lot without
   * anyone being short of CPU.
   */
  hungry?: { runPercent: number; readyPercent: number };
  /** Its cgroup's CPU quota, and how often it was throttled over the window. */
  cpuLimit?: { cpus: number; path: string; version: 1 | 2; periods?: number; throttledPeriods?: number; throttledMs?: number };
  machine?: MachineLoad;
  /** Its child processes over the same window: how many, and the percent of a core they ran in all. */
  children?: { count: number; cpuPercent: number };
}

export async function cpuSnapshot({ pid, host }: TargetProcess): Promise<CpuSnapshot> {
  const [stat, status, sched, cgroup, childLists] = await Promise.all([host.readProc(pid, 'stat'), host.readProc(pid, 'status'), host.readProcTasks(pid, 'schedstat'),
    host.cpuCgroup(pid).catch(() => []), host.readProcTasks(pid, 'children').catch(() => new Map<number, string>())]);
  const childPids = [...new Set([...childLists.values()].flatMap((text) => text.split(/\s+/).filter(Boolean).map(Number)))].slice(0, 64);
  const childStats = await Promise.all(childPids.map(async (child) => [child, await host.readProc(child, 'stat')] as const));
  const children = new Map(childStats.filter(([, text]) => text).map(([child, text]) => [child, parseProcStat(text!)] as const)
    .filter((entry): entry is readonly [number, ProcStat] => entry[1] !== undefined));
  const waitNs = new Map<number, number>();
  const runNs = new Map<number, number>();
  for (const [tid, text] of sched) {
    const s = parseSchedstat(text);
    if (s) { waitNs.set(tid, s.waitNs); runNs.set(tid, s.runNs); }
  }
  const cpuLimit = cpuLimitOf(cgroup);
  return {
    stat: stat ? parseProcStat(stat) : undefined,
    rss: status ? parseStatusRss(status) : undefined,
    allowedCpus: status ? parseCpusAllowed(status) : undefined,
    waitNs: waitNs.size ? waitNs : undefined,
    runNs: runNs.size ? runNs : undefined,
    ...(cpuLimit ? { cpuLimit } : {}),
    ...(children.size ? { children } : {}),
    at: Date.now(),
  };
}

/**
 * The CPU use between two snapshots. Run-queue delay is summed over the threads read in `after`: a
 * thread also read before counts its increase, one started in between all of its delay; a thread
 * that ended in between is not counted (its delay is gone with it).
 */
export function cpuUseBetween(before: CpuSnapshot, after: CpuSnapshot, machine?: MachineLoad): CpuUse {
  const ms = after.at - before.at;
  const cpu = before.stat && after.stat ? cpuPercent(before.stat, after.stat, ms) : undefined;
  let ready: number | undefined;
  let busyThreads: number | undefined;
  const hungry = { runPercent: 0, readyPercent: 0 };
  if (before.waitNs && after.waitNs && ms > 0 && cpu !== undefined) {
    let ns = 0;
    busyThreads = 0;
    for (const [tid, wait] of after.waitNs) {
      const waited = Math.max(0, wait - (before.waitNs.get(tid) ?? 0));
      ns += waited;
      const ran = after.runNs && before.runNs ? Math.max(0, (after.runNs.get(tid) ?? 0) - (before.runNs.get(tid) ?? 0)) : 0;
      if ((waited + ran) / 1e6 >= ms / 2) {
        busyThreads++;
        hungry.runPercent += (ran / 1e6 / ms) * 100;
        hungry.readyPercent += (waited / 1e6 / ms) * 100;
      }
    }
    ready = (ns / 1e6 / ms) * 100;
    if (!after.runNs) busyThreads = undefined;
  }
  const limit = after.cpuLimit;
  const same = limit && before.cpuLimit?.path === limit.path && before.cpuLimit.stat && limit.stat ? before.cpuLimit.stat : undefined;
  // Its children alive at both ends (a pool's or a server's workers): the CPU they took meanwhile.
  const kids = [...(after.children ?? [])].filter(([child]) => before.children?.has(child));
  const childrenCpu = kids.reduce((sum, [child, stat]) => sum + (cpuPercent(before.children!.get(child)!, stat, ms) ?? 0), 0);
  return {
    seconds: ms / 1000,
    ...(cpu !== undefined ? { cpuPercent: cpu } : {}),
    ...(ready !== undefined ? { readyPercent: ready } : {}),
    ...(busyThreads !== undefined ? { busyThreads, hungry } : {}),
    ...(after.allowedCpus !== undefined ? { allowedCpus: after.allowedCpus } : {}),
    ...(limit ? { cpuLimit: { cpus: limit.cpus, path: limit.path, version: limit.version,
      ...(same ? { periods: limit.stat!.periods - same.periods, throttledPeriods: limit.stat!.throttled - same.throttled,
        throttledMs: (limit.stat!.throttledUs - same.throttledUs) / 1000 } : {}) } } : {}),
    ...(machine ? { machine } : {}),
    ...(kids.length ? { children: { count: kids.length, cpuPercent: childrenCpu } } : {}),
  };
}

/** Runs `work` and says what the process did with the CPU meanwhile. */
export async function cpuDuring<T>(target: TargetProcess, work: () => Promise<T>): Promise<{ value: T; use: CpuUse; cpuPercent?: number }> {
  const before = await cpuSnapshot(target);
  const value = await work();
  const [after, machine] = await Promise.all([cpuSnapshot(target), target.host.machineLoad()]);
  const use = cpuUseBetween(before, after, machine);
  return { value, use, cpuPercent: use.cpuPercent };
}

/** Why a process waited for a CPU: an overloaded host, its cgroup's CPU quota, or its own threads outnumbering its CPUs. */
export type StarvationCause = 'host' | 'quota' | 'own-threads';

/** A process that wanted more CPU than it got over the window, and why. */
export interface Starvation {
  readyPercent: number;
  cpuPercent: number;
  cause: StarvationCause;
  /** The cause in full: "the process was ready to run 70% of the time but the machine's 2 CPUs were busy (load average 8.3): the host is overloaded". */
  text: string;
  /** The cause in a few words, for a title: "the host is overloaded", "throttled by its container's CPU limit (0.5 CPU)", "its 4 busy threads contend for the 2 CPUs it may run on". */
  short: string;
  /** The wait in a few words: "the process waited for a CPU 61% of the time". */
  waited: string;
  /** "Over 2.0 s the process ran 25% of a core and its threads were ready to run but waiting for a CPU another 70% (…)". */
  measured: string;
  /** The CPUs it can have: the least of the machine's, its affinity's and its cgroup quota. */
  cpus?: number;
  /** The CPUs (of those) other processes took at most over the window: `cpus` less what it ran. */
  othersCpus?: number;
}

/** From this much run-queue delay (percent of a core), and at least half the CPU time it got, a process is starved. */
export const STARVED_READY_PERCENT = 20;
/** ...when it wanted (ran or was ready to run) at least half a core: a process that mostly sleeps is not starved. */
export const STARVED_WANTED_PERCENT = 50;
/**
 * Work spread over a pool (each thread busy less than half the window, so none is `hungry`) is
 * starved when the threads that are not busy wanted this much of a core in all (ran or were ready
 * to run) and waited at least as long as they ran: a uvicorn worker's request threads ran 21 % of a
 * core and waited 114 % at load 7 (judge 4). Threads that mostly sleep want far less: 6 % + 46 %
 * (checkout_service.py at load 5.5).
 */
export const SPREAD_WANTED_PERCENT = 100;
/** Its threads want this many CPUs more than it may use (or more): they wait for each other. */
export const OWN_THREADS_EXCESS = 0.5;
/** Throttled by its cgroup's quota in this share of the window's scheduling periods: the quota is what holds it back. */
export const THROTTLED_PERIOD_SHARE = 0.2;

const cpuCount = (n: number) => `${Number(n.toFixed(2))} CPU${n <= 1 ? '' : 's'}`;

/**
 * Whether the process wanted more CPU than it got over the window, and why. Starved: its threads
 * waited on a run queue at least 20 % of a core's time, at least half as long as they ran (a third
 * of the time they wanted a CPU), and it wanted at least half a core in all. A healthy CPU-bound
 * process on a machine with room waits on a run queue a few percent of the time; a process whose
 * many threads mostly sleep adds up the short waits after each wake-up on a busy host
 * (checkout_service.py: 25 % ready beside 10 % CPU, 46 % at load 5.5) and is waiting, not starved:
 * where each thread's times are known, only the busy threads' waits count (`hungry`).
 *
 * Why, in this order: its cgroup's CPU quota throttled it in a fifth of the window's periods or more
 * (whatever the run-queue delay: a throttled task's wait is counted by some kernels and not others);
 * its own threads want more CPUs than it may run on, by more than the CPUs others took from it (4
 * busy threads on 2 CPUs wait half the time on an idle host: CPU-bound, not starved); else the host
 * is overloaded.
 */
export function starvation(use: CpuUse | undefined): Starvation | undefined {
  if (!use || use.cpuPercent === undefined) return undefined;
  const cpu = use.cpuPercent;
  const ready = use.readyPercent;
  const limit = use.cpuLimit;
  const throttled = limit?.periods !== undefined && limit.periods > 0 && limit.throttledPeriods !== undefined
    && limit.throttledPeriods >= Math.max(1, THROTTLED_PERIOD_SHARE * limit.periods) && cpu >= limit.cpus * 50;
  if (!throttled && (ready === undefined || ready < STARVED_READY_PERCENT || ready * 2 < cpu || cpu + ready < STARVED_WANTED_PERCENT)) return undefined;
  const h = use.hungry;
  if (!throttled && h && (h.readyPercent < STARVED_READY_PERCENT || h.readyPercent * 2 < h.runPercent) && !spreadStarved(use)) return undefined;
  const r = ready ?? 0;
  const machine = use.machine;
  const cpus = Math.min(machine?.cpus ?? Infinity, use.allowedCpus ?? Infinity, limit?.cpus ?? Infinity);
  const wanted = (cpu + r) / 100;
  // On a host with nothing else to run its threads would still wait `wanted - cpus`; the rest of their
  // wait (at most `cpus - cpu`) is the CPU others took. Its own threads are the cause when they
  // oversubscribe its CPUs by half a CPU or more and that accounts for a third of the wait at least.
  const others = Number.isFinite(cpus) ? Math.max(0, cpus - cpu / 100) : undefined;
  const cause: StarvationCause = throttled ? 'quota'
    : others !== undefined && wanted >= cpus + OWN_THREADS_EXCESS && wanted - cpus >= others / 2 ? 'own-threads' : 'host';
  const waited = r <= 100 ? `the process waited for a CPU ${r.toFixed(0)}% of the time` : `its threads waited for a CPU ${r.toFixed(0)}% of a core's time (several at once)`;
  let measured = `Over ${use.seconds.toFixed(1)} s the process ran ${cpu.toFixed(0)}% of a core`
    + (ready !== undefined ? ` and its threads were ready to run but waiting for a CPU another ${r.toFixed(0)}% (run-queue delay, /proc/<pid>/task/*/schedstat)` : '') + '.';
  let text: string;
  let short: string;
  if (cause === 'quota') {
    short = `throttled by its container's CPU limit (${cpuCount(limit!.cpus)})`;
    text = `the process was throttled by its container's CPU limit (${cpuCount(limit!.cpus)}, cgroup ${limit!.path}) in ${limit!.throttledPeriods} of ${limit!.periods} scheduling periods`;
    measured += ` Its cgroup ${limit!.path} may use ${cpuCount(limit!.cpus)} (${limit!.version === 2 ? 'cpu.max' : 'cpu.cfs_quota_us / cpu.cfs_period_us'}) and was throttled in ${limit!.throttledPeriods} of ${limit!.periods} scheduling periods`
      + `${limit!.throttledMs !== undefined ? ` (${(limit!.throttledMs / 1000).toFixed(1)} s throttled)` : ''} (cpu.stat).`;
  } else if (cause === 'own-threads') {
    const n = Math.max(use.busyThreads ?? 0, Math.ceil(wanted - 0.25));
    const where = use.allowedCpus !== undefined && use.allowedCpus < (machine?.cpus ?? Infinity) && use.allowedCpus === cpus ? `the ${cpuCount(cpus)} it may run on (its CPU affinity)`
      : limit && limit.cpus === cpus ? `the ${cpuCount(cpus)} of its cgroup's limit` : `the machine's ${cpuCount(cpus)}`;
    short = `its ${n} busy threads contend for ${where}`;
    text = `the process's own ${n} busy threads wanted ${wanted.toFixed(1)} CPUs and it may use ${cpuCount(cpus)}: it is CPU-bound and its threads wait for each other`
      + (others! >= 0.5 ? ` (other processes took up to ${others!.toFixed(1)} of them too)` : ', not starved by an overloaded host');
    measured += ` Its threads wanted (ran or were ready to run) ${wanted.toFixed(1)} CPUs' time; others took at most ${others!.toFixed(1)} of the ${cpuCount(cpus)} it may use.`;
  } else {
    const pinned = use.allowedCpus !== undefined && machine !== undefined && use.allowedCpus < machine.cpus;
    const busy = pinned ? `the ${cpuCount(use.allowedCpus!)} it may run on (its CPU affinity; the machine has ${machine!.cpus}) ${use.allowedCpus === 1 ? 'was' : 'were'} busy`
      : machine ? `the machine's ${cpuCount(machine.cpus)} ${machine.cpus === 1 ? 'was' : 'were'} busy` : 'the CPUs were busy';
    const load = machine?.load1 !== undefined ? ` (load average ${machine.load1.toFixed(1)})` : '';
    const who = r <= 100 ? `the process was ready to run ${r.toFixed(0)}% of the time` : `the process's threads were ready to run ${r.toFixed(0)}% of a core's time (several at once)`;
    short = 'the host is overloaded';
    text = `${who} but ${busy}${load}: the host is overloaded`;
    const kids = use.children;
    if (kids && kids.cpuPercent >= 50) {
      // Its own workers are part of that load (judge 14: a pool's two workers unpickling what the parent pickled).
      short = 'the host is overloaded, its own child processes among the load';
      text += `; its own ${kids.count} child process${kids.count === 1 ? '' : 'es'} ran ${(kids.cpuPercent / 100).toFixed(1)} CPUs of it meanwhile`;
    }
  }
  return { readyPercent: r, cpuPercent: cpu, cause, text, short, waited, measured, ...(others !== undefined ? { cpus, othersCpus: others } : {}) };
}

/** The threads that are not busy (see SPREAD_WANTED_PERCENT) wanted a core or more and waited at least as long as they ran. */
function spreadStarved(use: CpuUse): boolean {
  if (use.cpuPercent === undefined || use.readyPercent === undefined || !use.hungry) return false;
  const run = Math.max(0, use.cpuPercent - use.hungry.runPercent);
  const ready = Math.max(0, use.readyPercent - use.hungry.readyPercent);
  return run + ready >= SPREAD_WANTED_PERCENT && ready >= run;
}

/**
 * Why a process with run-queue delay is not starved, in words for evidence ("it got the CPU it asked
 * for" only when that is so); undefined without schedstat.
 */
export function notStarvedText(use: CpuUse | undefined): string | undefined {
  const cpu = use?.cpuPercent;
  const ready = use?.readyPercent;
  if (!use || cpu === undefined || ready === undefined) return undefined;
  const measured = `the process ran ${cpu.toFixed(0)}% of a core and its threads were ready to run but waiting for a CPU ${ready.toFixed(0)}% (run-queue delay)`;
  if (ready < STARVED_READY_PERCENT || ready * 2 < cpu) return `${measured}: it got the CPU it asked for`;
  const h = use.hungry;
  if (h && (use.busyThreads ?? 0) > 0) {
    return `${measured}, but its ${plural(use.busyThreads!, 'busy thread')} waited only ${h.readyPercent.toFixed(0)}% beside running ${h.runPercent.toFixed(0)}%: `
      + 'the rest is short waits of threads that mostly sleep, not starvation';
  }
  return `${measured}, in short waits of threads that mostly sleep (none was busy half the time): not starvation`;
}

/** The run-queue delay in words, for evidence when it is not starvation: "ready to run but waiting for a CPU 4% of the time". */
export function readyText(use: CpuUse | undefined): string | undefined {
  return use?.readyPercent !== undefined ? `ready to run but waiting for a CPU ${use.readyPercent.toFixed(0)}% of a core` : undefined;
}
