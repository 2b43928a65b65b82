/**
 * Where a target process lives, and how PyFlight reaches it from where it runs: the one seam for
 * it. A `Session` holds one (`session.host`) and everything of PyFlight's TypeScript side that
 * touches the target from outside goes through it — starting the helper and py-spy, reading /proc,
 * reading the files the target names, making the private directories where results land. The agent
 * is reached by the helper (python/pyflight_helper/wire.py: PyFlight's door, a Unix socket in the
 * target's /tmp found through /proc/<pid>/root), so a host decides it by how it starts the helper.
 * `localHost` (localHost.ts) is this machine. A target in its own pid, mount and network namespaces
 * (a container seen from the host) is a detail of an implementation: pids, paths and thread ids
 * mapped here, callers unchanged.
 */
import type { ChildProcess } from 'node:child_process';
import type { ResultPromise } from 'execa';

/** A process and where it lives (a `Session` is one). */
export interface TargetProcess {
  pid: number;
  host: TargetHost;
}

export interface TargetHost {
  /**
   * Starts the helper with the target's interpreter: stdin, stdout and stderr piped (the JSON-lines
   * channel, and the log), in its own process group. The helper is what reaches the agent.
   */
  spawnHelper(python: string, args: readonly string[], env: Readonly<Record<string, string>>): ResultPromise;

  /** Starts py-spy on the target: stdout and stderr piped, in its own process group. */
  spawnPySpy(exe: string, args: readonly string[]): ChildProcess;

  /**
   * A new private directory (mode 0700) named `<prefix>XXXXXX` under `base` (default: the temp
   * directory) where a result lands for PyFlight to read: py-spy's samples, a torch trace the helper
   * moved out of the target.
   */
  privateDir(prefix: string, base?: string): Promise<string>;

  /**
   * A file of /proc/<pid>/ (`stat`, `status`, `maps`, `cmdline`, `environ`) as text; undefined when
   * it cannot be read (gone, another user's, no /proc on this system).
   */
  readProc(pid: number, file: string): Promise<string | undefined>;

  /**
   * The same file of every thread of the process, /proc/<pid>/task/<tid>/<file> (`schedstat`, `stat`),
   * by thread id; a thread that ends while it is read is left out. Empty when the process is gone.
   */
  readProcTasks(pid: number, file: string): Promise<Map<number, string>>;

  /**
   * The machine the target runs on: its online CPUs and the 1-minute load average (/proc/loadavg),
   * for telling a starved process from one that waits.
   */
  machineLoad(): Promise<MachineLoad>;

  /**
   * The CPU controller files of the target's cgroup and of each of its parents, leaf first (found
   * through /proc/<pid>/cgroup): cgroup v2's `cpu.max` and `cpu.stat`, or v1's `cpu.cfs_quota_us`,
   * `cpu.cfs_period_us` and `cpu.stat`. For telling a process throttled by its container's CPU limit
   * from one starved by an overloaded host. Empty when they cannot be read.
   */
  cpuCgroup(pid: number): Promise<CgroupCpuLevel[]>;

  /** A link of /proc/<pid>/ (`exe`, `cwd`); rejects with the system's error (EACCES: another user's process). */
  readProcLink(pid: number, link: string): Promise<string>;

  /** The process tree (Linux /proc), for the process list. */
  procSource(): ProcSource;

  /**
   * A file as the target names it (a frame's source file), read from here; undefined when it cannot
   * be. Synchronous: callers read a few source lines inside a loop over samples.
   */
  readTargetFile(pid: number, file: string): string | undefined;

  /** True while the process exists and is not a zombie (a zombie has already exited). */
  isAlive(pid: number): Promise<boolean>;

  /** What decides whether PyFlight may trace processes here, as read (preflight/permissions.ts reads it). */
  tracerFacts(): Promise<TracerFacts>;
}

/**
 * Reads a /proc tree; every method returns undefined when the file is unreadable or gone. Synchronous
 * on purpose: procfs files are generated in memory and never wait on a disk, while a thread-pool
 * round trip per file costs ten times the read itself (measured with ~1000 processes: about 30 ms
 * read synchronously, 350 ms with fs.promises, 130 ms with callbacks). listFromProc yields between
 * batches so the extension host is never blocked for long.
 */
export interface ProcSource {
  /** Names in the /proc directory. */
  list(): string[];
  /** A file relative to the /proc root, e.g. `1234/stat` or `stat`. */
  read(relative: string): string | undefined;
  /** A symbolic link relative to the /proc root, e.g. `1234/exe`. */
  readLink(relative: string): string | undefined;
  /** The user database (/etc/passwd). */
  readPasswd(): string | undefined;
}

export interface MachineLoad {
  /** CPUs online on the machine. */
  cpus: number;
  /** Runnable (and uninterruptible) threads averaged over the last minute; undefined when unreadable. */
  load1?: number;
}

/** One cgroup of a target's CPU controller (targetHost.cpuCgroup). */
export interface CgroupCpuLevel {
  version: 1 | 2;
  /** The cgroup's path in its hierarchy, as /proc/<pid>/cgroup names it (`/` is the root). */
  path: string;
  /** The controller's files as read (`cpu.max`, `cpu.stat`; v1: `cpu.cfs_quota_us`, `cpu.cfs_period_us`, `cpu.stat`); unreadable ones absent. */
  files: Record<string, string>;
}

export interface TracerFacts {
  /** PyFlight's effective uid. */
  euid: number;
  /** kernel.yama.ptrace_scope as read; undefined when Yama is not enabled. */
  ptraceScope?: string;
  /** PyFlight's own /proc/self/status (its capabilities). */
  ownStatus?: string;
  /** The user database (/etc/passwd), for names in messages. */
  passwd?: string;
}
