/**
 * How much CPU a process used over a window, and how long its threads were ready to run but not
 * running: the run-queue delay of every thread (/proc/<pid>/task/<tid>/schedstat, its second field),
 * read through the target's host over the same window as its CPU time (/proc/<pid>/stat). Every CPU
 * judgement of the diagnosis reads both: a process that used 23 % of a core on a loaded machine may
 * have wanted 95 % — it is starved, not waiting on a remote service.
 */
import type { MachineLoad, TargetProcess } from '../host/targetHost';
import { cpuPercent, parseCpusAllowed, parseProcStat, parseSchedstat, parseStatusRss, type ProcStat } from '../processes/procfsParser';

/** One reading of a process's CPU counters. */
export interface CpuSnapshot {
  stat?: ProcStat;
  rss?: number;
  /** CPUs the process may run on (its affinity), from /proc/<pid>/status. */
  allowedCpus?: number;
  /** Run-queue delay so far, ns, by thread id; undefined where schedstat cannot be read. */
  waitNs?: Map<number, number>;
  /** Time on a CPU so far, ns, by thread id (schedstat's first field). */
  runNs?: Map<number, number>;
  at: number;
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
  machine?: MachineLoad;
  /**
   * The threads that wanted a CPU (ran or waited for one) at least half the window, and their run and
   * run-queue percent of a core: starvation is judged on these. Threads that mostly sleep add a short
   * wait after each wake-up, which on a busy host sums to a lot without anyone being short of CPU.
   */
  hungry?: { threads: number; runPercent: number; readyPercent: number };
}

export async function cpuSnapshot({ pid, host }: TargetProcess): Promise<CpuSnapshot> {
  const [stat, status, sched] = await Promise.all([host.readProc(pid, 'stat'), host.readProc(pid, 'status'), host.readProcTasks(pid, 'schedstat')]);
  const waitNs = new Map<number, number>();
  const runNs = new Map<number, number>();
  for (const [tid, text] of sched) {
    const s = parseSchedstat(text);
    if (s) { waitNs.set(tid, s.waitNs); runNs.set(tid, s.runNs); }
  }
  return {
    stat: stat ? parseProcStat(stat) : undefined,
    rss: status ? parseStatusRss(status) : undefined,
    allowedCpus: status ? parseCpusAllowed(status) : undefined,
    waitNs: waitNs.size ? waitNs : undefined,
    runNs: runNs.size ? runNs : undefined,
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
  let hungry: CpuUse['hungry'];
  if (before.waitNs && after.waitNs && ms > 0 && cpu !== undefined) {
    let ns = 0;
    for (const [tid, wait] of after.waitNs) ns += Math.max(0, wait - (before.waitNs.get(tid) ?? 0));
    ready = (ns / 1e6 / ms) * 100;
    if (before.runNs && after.runNs) {
      hungry = { threads: 0, runPercent: 0, readyPercent: 0 };
      for (const [tid, wait] of after.waitNs) {
        const waited = Math.max(0, wait - (before.waitNs.get(tid) ?? 0));
        const ran = Math.max(0, (after.runNs.get(tid) ?? 0) - (before.runNs.get(tid) ?? 0));
        if ((waited + ran) / 1e6 < ms / 2) continue;
        hungry.threads++;
        hungry.runPercent += (ran / 1e6 / ms) * 100;
        hungry.readyPercent += (waited / 1e6 / ms) * 100;
      }
    }
  }
  return {
    seconds: ms / 1000,
    ...(cpu !== undefined ? { cpuPercent: cpu } : {}),
    ...(ready !== undefined ? { readyPercent: ready } : {}),
    ...(after.allowedCpus !== undefined ? { allowedCpus: after.allowedCpus } : {}),
    ...(machine ? { machine } : {}),
    ...(hungry ? { hungry } : {}),
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

/** A process starved of CPU: ready to run for a large part of the window, and not running then. */
export interface Starvation {
  readyPercent: number;
  cpuPercent: number;
  /** "the process was ready to run 70% of the time but the machine's 2 CPUs were busy (load average 8.3): the host is overloaded". */
  text: string;
  /** "ran 25% of a core and was ready to run, not running, another 70%". */
  measured: string;
}

/** From this much run-queue delay (percent of a core), and at least half the CPU time it got, a process is starved. */
export const STARVED_READY_PERCENT = 20;
/** ...when it wanted (ran or was ready to run) at least half a core: a process that mostly sleeps is not starved. */
export const STARVED_WANTED_PERCENT = 50;

/**
 * Whether the process was starved of CPU over the window: its threads waited on a run queue at least
 * 20 % of a core's time, at least half as long as they ran (a third of the time they wanted a CPU),
 * and it wanted at least half a core in all. A healthy CPU-bound process on a machine with room
 * waits on a run queue a few percent of the time; a process whose many threads mostly sleep adds up
 * the short waits after each wake-up on a busy host (checkout_service.py: 25 % ready beside 10 % CPU,
 * 46 % at load 5.5) and is waiting, not starved: where each thread's times are known, only the threads
 * that wanted a CPU at least half the window count (`hungry`).
 */
export function starvation(use: CpuUse | undefined): Starvation | undefined {
  const ready = use?.readyPercent;
  if (!use || ready === undefined || use.cpuPercent === undefined) return undefined;
  const cpu = use.cpuPercent;
  if (ready < STARVED_READY_PERCENT || ready * 2 < cpu || cpu + ready < STARVED_WANTED_PERCENT) return undefined;
  // Judged on the threads that wanted a CPU most of the window, where each thread's times are known.
  const h = use.hungry;
  if (h && (h.readyPercent < STARVED_READY_PERCENT || h.readyPercent * 2 < h.runPercent)) return undefined;
  const machine = use.machine;
  const plural = (n: number) => `${n} CPU${n === 1 ? '' : 's'}`;
  const pinned = use.allowedCpus !== undefined && machine !== undefined && use.allowedCpus < machine.cpus;
  const cpus = pinned ? `the ${plural(use.allowedCpus!)} it may run on (its CPU affinity; the machine has ${machine!.cpus}) ${use.allowedCpus === 1 ? 'was' : 'were'} busy`
    : machine ? `the machine's ${plural(machine.cpus)} ${machine.cpus === 1 ? 'was' : 'were'} busy` : 'the CPUs were busy';
  const load = machine?.load1 !== undefined ? ` (load average ${machine.load1.toFixed(1)})` : '';
  const who = ready <= 100 ? `the process was ready to run ${ready.toFixed(0)}% of the time` : `the process's threads were ready to run ${ready.toFixed(0)}% of a core's time (several at once)`;
  return {
    readyPercent: ready,
    cpuPercent: cpu,
    text: `${who} but ${cpus}${load}: the host is overloaded`,
    measured: `Over ${use.seconds.toFixed(1)} s the process ran ${cpu.toFixed(0)}% of a core and its threads were ready to run but waiting for a CPU another ${ready.toFixed(0)}% `
      + '(run-queue delay, /proc/<pid>/task/*/schedstat).',
  };
}

/** The run-queue delay in words, for evidence when it is not starvation: "ready to run but waiting for a CPU 4% of the time". */
export function readyText(use: CpuUse | undefined): string | undefined {
  return use?.readyPercent !== undefined ? `ready to run but waiting for a CPU ${use.readyPercent.toFixed(0)}% of a core` : undefined;
}
