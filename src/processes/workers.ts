/**
 * Which children of a gunicorn / uvicorn / celery master are its workers: the one rule of the
 * picker, `pyflight processes`, `--all-workers`, worker groups and the diagnosis of a master.
 *
 * A worker is a child that runs the server's worker code. The command line names the candidates
 * (pythonDetection.ts: a fork with the master's command line, a `multiprocessing` spawn child of a
 * uvicorn master, a process title); multiprocessing's resource tracker, semaphore tracker and fork
 * server are never candidates (their command lines say what they are). A candidate is then
 * confirmed by its main thread's frames, read from outside with py-spy (`dump --nonblocking`:
 * nothing loaded, the process not paused): a helper the master forked (same command line) runs no
 * worker code and is not a worker. When the frames cannot be read (no py-spy, not permitted), the
 * command line decides. A verdict is kept per process (pid and start time).
 */
import { promises as fs, constants as fsConstants } from 'node:fs';
import { localHost } from '../host/localHost';
import type { TargetHost } from '../host/targetHost';
import type { ProcessInfo } from './processInfo';
import { pySpyCandidates } from './pySpy';
import type { ServerKind } from './pythonDetection';

/** A frame of a process's main thread, as py-spy reads it. */
export interface MainFrame {
  name: string;
  file: string;
}

/** The main thread's frames of a process (innermost first), or undefined when they cannot be read. */
export type MainFramesReader = (process: ProcessInfo) => Promise<MainFrame[] | undefined>;

/** The files of each server's worker loop (a worker's main thread runs one of them, from fork or spawn on). */
const WORKER_CODE: Record<ServerKind, RegExp> = {
  gunicorn: /[\\/]gunicorn[\\/]workers[\\/]/, // Worker.init_process → SyncWorker.run, ThreadWorker.run, …
  uvicorn: /[\\/]uvicorn[\\/](server|_subprocess)\.py$/, // subprocess_started → Server.run
  celery: /[\\/](billiard[\\/]pool\.py|celery[\\/]concurrency[\\/])/, // billiard's Worker.workloop (test/integration/celery.test.ts)
  // The app's process watches files in its main thread (run_with_reloader); the server runs in another thread.
  reloader: /[\\/](werkzeug[\\/]_reloader|django[\\/]utils[\\/]autoreload)\.py$/,
};

/** True when a main thread's frames run the worker code of `kind`; undefined while a spawned child
 * is still starting (importing the app in multiprocessing's `spawn_main`, before its target runs). */
export function runsWorkerCode(kind: ServerKind, frames: readonly MainFrame[]): boolean | undefined {
  if (frames.some((f) => WORKER_CODE[kind].test(f.file))) return true;
  const starting = frames.some((f) => f.name === 'spawn_main' && /multiprocessing[\\/]spawn\.py$/.test(f.file))
    && !frames.some((f) => f.name === 'BaseProcess._bootstrap');
  return starting ? undefined : false;
}

/** A verdict "not a worker" is kept only for a process this old: a fork may not yet be in its worker code. */
const SETTLED_MS = 5000;

const verdicts = new Map<string, boolean>();

/** One read of the main thread's frames: worker code or not; undefined when it cannot tell (no
 * frames, not permitted, still starting), and then the command line decides. */
async function readVerdict(p: ProcessInfo, kind: ServerKind, read: MainFramesReader): Promise<boolean | undefined> {
  const frames = await read(p).catch(() => undefined);
  return frames?.length ? runsWorkerCode(kind, frames) : undefined;
}

/**
 * The processes with every worker candidate confirmed (or not) by its main thread's frames: a
 * candidate that runs no worker code loses its server role (it is a helper child, listed as a
 * plain Python process).
 */
export async function confirmWorkers(processes: readonly ProcessInfo[], read: MainFramesReader): Promise<ProcessInfo[]> {
  const checked = await Promise.all(processes.map(async (p): Promise<ProcessInfo> => {
    if (p.server?.role !== 'worker') return p;
    const key = `${p.pid}:${p.startedAt ?? ''}`;
    let works = verdicts.get(key);
    if (works === undefined) {
      works = await readVerdict(p, p.server.kind, read);
      // "No worker code" from one read is read again: `dump --nonblocking` reads a running process
      // without pausing it and can return a torn stack (a clean CI run lost a serving gunicorn worker
      // so), and a fresh fork may be a moment from its worker loop.
      if (works === false) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        works = await readVerdict(p, p.server.kind, read);
      }
      if (works === undefined) return p;
      if (works || (p.ageMs ?? 0) >= SETTLED_MS) verdicts.set(key, works);
    }
    if (works) return p;
    const { server: _helper, ...rest } = p;
    return rest;
  }));
  if (verdicts.size > 4096) verdicts.clear();
  return checked;
}

/** The workers of `masterPid` among `processes` (after confirmWorkers), by pid. */
export function workersOf(masterPid: number, processes: readonly ProcessInfo[]): ProcessInfo[] {
  const master = processes.find((p) => p.pid === masterPid);
  return processes.filter((p) => p.ppid === masterPid && p.server?.role === 'worker' && (!master?.server || master.server.kind === p.server.kind))
    .sort((a, b) => a.pid - b.pid);
}

/** py-spy next to the process's interpreter (argv[0], the executable), else on PATH. */
async function pySpyFor(process: ProcessInfo): Promise<string | undefined> {
  const argv0 = process.commandLine.split(' ')[0];
  const near = argv0.startsWith('/') ? argv0 : process.executable;
  for (const candidate of pySpyCandidates(near)) {
    try {
      await fs.access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Reads a process's main-thread frames with `py-spy dump --nonblocking --json` (Linux; nothing loaded, not paused). */
export function pySpyMainFrames(host: TargetHost = localHost, timeoutMs = 5000): MainFramesReader {
  return async (process) => {
    const pySpy = await pySpyFor(process);
    if (!pySpy) return undefined;
    const out = await new Promise<string | undefined>((resolve) => {
      const child = host.spawnPySpy(pySpy, ['dump', '--pid', String(process.pid), '--nonblocking', '--json']);
      let stdout = '';
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (d: string) => { if (stdout.length < 8 << 20) stdout += d; });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', () => { clearTimeout(timer); resolve(undefined); });
      child.once('close', (code) => { clearTimeout(timer); resolve(code === 0 ? stdout : undefined); });
    });
    return out ? mainThreadFrames(out, process.pid) : undefined;
  };
}

/** The main thread's frames (innermost first) in `py-spy dump --json` output; undefined when unreadable. */
export function mainThreadFrames(dumpJson: string, pid: number): MainFrame[] | undefined {
  try {
    const threads = JSON.parse(dumpJson) as Array<{ os_thread_id?: number; thread_name?: string; frames?: Array<{ name: string; filename: string }> }>;
    const main = threads.find((t) => t.os_thread_id === pid) ?? threads.find((t) => t.thread_name === 'MainThread');
    return main?.frames?.map((f) => ({ name: f.name, file: f.filename }));
  } catch {
    return undefined;
  }
}
