import type { ProcessInfo } from './processInfo';
import { isPythonProcess } from './pythonDetection';

/** The fields of /proc/<pid>/stat the picker uses (numbering as in proc(5)). */
export interface ProcStat {
  pid: number;
  /** Field 2: up to 15 bytes of the executable name, or whatever the process set with prctl. */
  comm: string;
  /** Field 3: R, S, D, Z, ... */
  state: string;
  /** Field 4. */
  ppid: number;
  /** Field 9: kernel PF_* flags. */
  flags: number;
  /** Fields 14 and 15: CPU time in user and kernel mode, clock ticks. */
  utime: number;
  stime: number;
  /** Field 22: start time in clock ticks after boot. */
  startTicks: number;
}

const PF_KTHREAD = 0x00200000;

/** Linux's USER_HZ is 100 on every architecture we run on (x86, arm, arm64). */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * Parses /proc/<pid>/stat. `comm` may contain spaces and parentheses (e.g. `py) x (y`), so it is
 * everything between the first '(' and the last ')'.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  const stat = {
    pid: Number(text.slice(0, open)),
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '',
    ppid: field(4),
    flags: field(9),
    utime: field(14),
    stime: field(15),
    startTicks: field(22),
  };
  return Number.isInteger(stat.pid) && Number.isInteger(stat.ppid) && Number.isFinite(stat.startTicks) ? stat : undefined;
}

export function isKernelThread(stat: ProcStat): boolean {
  return (stat.flags & PF_KTHREAD) !== 0;
}

/** The effective uid from /proc/<pid>/status (`Uid: real effective saved fs`), as `ps -o uid` shows. */
export function parseStatusUid(text: string): number | undefined {
  const match = /^Uid:\s+\d+\s+(\d+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Resident set size in bytes from `VmRSS:  1234 kB` of /proc/<pid>/status (absent for zombies). */
export function parseStatusRss(text: string): number | undefined {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** Seconds since boot, the first number of /proc/uptime (10 ms resolution). */
export function parseUptime(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s/.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * CPU use between two reads of the same process's stat, in percent of one core: (utime+stime)
 * delta over the wall-clock time between the reads, as top computes it. Undefined when the pid was
 * reused in between (another start time) or no time passed.
 */
export function cpuPercent(before: ProcStat, after: ProcStat, elapsedMs: number, clockTicks = CLOCK_TICKS_PER_SECOND): number | undefined {
  if (before.pid !== after.pid || before.startTicks !== after.startTicks || elapsedMs <= 0) return undefined;
  const ticks = after.utime + after.stime - (before.utime + before.stime);
  return Math.max(0, (ticks / clockTicks) / (elapsedMs / 1000) * 100);
}

/**
 * /proc/<pid>/task/<tid>/schedstat: `run_ns wait_ns timeslices` — nanoseconds on a CPU, nanoseconds
 * runnable but waiting on a run queue (the scheduler's run delay), and how many times it ran.
 */
export function parseSchedstat(text: string): { runNs: number; waitNs: number } | undefined {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  return Number.isFinite(run) && Number.isFinite(wait) ? { runNs: run, waitNs: wait } : undefined;
}

/** How many CPUs a `Cpus_allowed_list:` of /proc/<pid>/status names (`0-3,8`); undefined when absent. */
export function parseCpusAllowed(status: string): number | undefined {
  const match = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
  if (!match) return undefined;
  let n = 0;
  for (const part of match[1].split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a)) return undefined;
    n += b === undefined ? 1 : b - a + 1;
  }
  return n || undefined;
}

/**
 * Splits /proc/<pid>/cmdline. Trailing empty strings are dropped: the terminating NUL, and the NUL
 * padding setproctitle leaves where the original arguments were.
 */
export function parseCmdline(raw: string): string[] {
  const argv = raw.split('\0');
  while (argv.length > 0 && argv[argv.length - 1] === '') argv.pop();
  return argv;
}

/** Boot time in epoch seconds, from the `btime` line of /proc/stat. */
export function parseBootTime(procStat: string): number | undefined {
  const match = /^btime\s+(\d+)/m.exec(procStat);
  return match ? Number(match[1]) : undefined;
}

/** uid → user name from /etc/passwd (users known only to NSS/LDAP fall back to the number). */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name && !name.startsWith('#') && uid !== undefined && /^\d+$/.test(uid) && !users.has(Number(uid))) {
      users.set(Number(uid), name);
    }
  }
  return users;
}

/** The raw pieces read for one pid; anything unreadable is undefined. */
export interface ProcEntry {
  stat: ProcStat;
  status?: string;
  cmdline?: string;
  /** Target of /proc/<pid>/exe; unreadable for other users' processes unless we are root. */
  exeLink?: string;
}

export interface ProcContext {
  /** Epoch seconds, from parseBootTime. */
  bootTime?: number;
  users: ReadonlyMap<number, string>;
  clockTicks?: number;
  /** Seconds since boot when the list was read (parseUptime), for precise ages. */
  uptime?: number;
}

/** Combines what was read for one pid into a ProcessInfo (server roles are set later, across the list). */
export function toProcessInfo(entry: ProcEntry, context: ProcContext): ProcessInfo {
  const { stat } = entry;
  const argv = entry.cmdline === undefined ? [] : parseCmdline(entry.cmdline);
  const uid = entry.status === undefined ? undefined : parseStatusUid(entry.status);
  // A replaced binary shows as "<path> (deleted)"; the path is still the useful part.
  const executable = entry.exeLink?.replace(/ \(deleted\)$/, '');
  const ticks = context.clockTicks ?? CLOCK_TICKS_PER_SECOND;
  const rssBytes = entry.status === undefined ? undefined : parseStatusRss(entry.status);
  const ageMs = context.uptime === undefined ? undefined : Math.max(0, Math.round((context.uptime - stat.startTicks / ticks) * 1000));
  return {
    pid: stat.pid,
    ppid: stat.ppid,
    user: uid === undefined ? '?' : context.users.get(uid) ?? String(uid),
    ...(uid === undefined ? {} : { uid }),
    ...(context.bootTime === undefined ? {} : { startedAt: Math.round((context.bootTime + stat.startTicks / ticks) * 1000) }),
    ...(ageMs === undefined ? {} : { ageMs }),
    ...(rssBytes === undefined ? {} : { rssBytes }),
    // Zombies have no command line; show the name in brackets, as ps does.
    commandLine: argv.length > 0 ? argv.join(' ') : `[${stat.comm}]`,
    ...(executable ? { executable } : {}),
    isPython: isPythonProcess(executable, argv[0]),
  };
}
