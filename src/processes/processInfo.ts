/** One row of the process picker, produced by a per-OS lister and a pure parser. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Owner's user name (or the numeric uid when it cannot be resolved). */
  user: string;
  uid?: number;
  /** Process start, epoch milliseconds, when known. */
  startedAt?: number;
  /** The full command line, arguments joined by single spaces. */
  commandLine: string;
  /** Path of the executable when known (Linux: /proc/<pid>/exe; macOS: the whole `comm` column of `ps -o pid=,comm=`). */
  executable?: string;
  /** True when the process looks like a CPython interpreter (executable or argv[0] named python*). */
  isPython: boolean;
  /** For pre-fork servers: which framework, and whether this is the master or a worker. */
  server?: { kind: 'gunicorn' | 'uvicorn' | 'celery'; role: 'master' | 'worker' };
}
