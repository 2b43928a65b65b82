import type { ContainerInfo } from './containers';

/** One row of the process picker, produced by a per-OS lister and a pure parser. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Owner's user name (or the numeric uid when it cannot be resolved). */
  user: string;
  uid?: number;
  /** Process start, epoch milliseconds, when known (Linux: to the second only, /proc/stat's btime is whole seconds). */
  startedAt?: number;
  /** Time since start in ms, precise to 10 ms, when known (Linux: /proc/uptime − start ticks). */
  ageMs?: number;
  /**
   * CPU use in percent of one core (a busy multi-threaded process can exceed 100), when measured.
   * Linux: utime+stime delta over the lister's sampling interval (`cpuSampleMs`, what top shows);
   * macOS: ps `%cpu` (the kernel's decaying average over about the last minute).
   */
  cpuPercent?: number;
  /** Resident memory in bytes (Linux: VmRSS of /proc/<pid>/status; macOS: ps `rss`). */
  rssBytes?: number;
  /** The full command line, arguments joined by single spaces. */
  commandLine: string;
  /** Path of the executable when known (Linux: /proc/<pid>/exe; macOS: the whole `comm` column of `ps -o pid=,comm=`). */
  executable?: string;
  /** True when the process looks like a CPython interpreter (executable or argv[0] named python*). */
  isPython: boolean;
  /** Linux: a process in a container seen from the node (its own namespaces, a container cgroup); Python processes only. */
  container?: ContainerInfo;
  /** For pre-fork servers: which framework, and whether this is the master or a worker. A development
   * server's reloader (Flask/Werkzeug, Django) is kind `reloader`: the parent only restarts the child,
   * which runs the app, as its one worker. */
  server?: { kind: 'gunicorn' | 'uvicorn' | 'celery' | 'reloader'; role: 'master' | 'worker' };
}
