import { baseName, isPythonExecutable } from '../common/pythonExecutable';
import type { ProcessInfo } from './processInfo';

export { baseName };

export type ServerKind = NonNullable<ProcessInfo['server']>['kind'];
export type ServerRole = NonNullable<ProcessInfo['server']>['role'];

// flight-profiler injects into CPython only, so PyPy is recognised to be labelled, not attached to.
const PYPY_NAME = /^pypy(\d+(\.\d+)*)?$/i;

/** The one rule (common/pythonExecutable.ts), under the name the picker code uses. */
export function isPythonName(name: string): boolean {
  return isPythonExecutable(name);
}

/** True when the executable or argv[0] is named like a CPython interpreter. */
export function isPythonProcess(executable: string | undefined, argv0: string | undefined): boolean {
  return [executable, argv0].some((n) => !!n && isPythonName(n));
}

/** True for PyPy interpreters, which the picker labels as unsupported. */
export function isPyPy(process: Pick<ProcessInfo, 'executable' | 'commandLine'>): boolean {
  return [process.executable, process.commandLine.split(' ')[0]].some((n) => !!n && PYPY_NAME.test(baseName(n)));
}

interface ServerHint {
  kind?: ServerKind;
  /** Set when the process title says it (setproctitle); otherwise decided from the parent. */
  role?: ServerRole;
  /** A `multiprocessing` spawn child: a uvicorn worker when its parent is a uvicorn master. */
  spawnChild?: boolean;
}

/**
 * The program a Python command line runs: a console script (`gunicorn`), a module (`-m celery`), a
 * script (`app.py`), or argv[0] itself when it is not an interpreter.
 */
export function programName(argv: readonly string[]): string | undefined {
  if (argv.length === 0) return undefined;
  if (!isPythonName(argv[0])) return baseName(argv[0]);
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-m') return argv[i + 1];
    if (arg === '-c') return undefined;
    if (arg === '-W' || arg === '-X') i++;
    else if (!arg.startsWith('-')) return baseName(arg);
  }
  return undefined;
}

const GUNICORN_TITLE = /^gunicorn: (master|worker) \[/;
const CELERY_TITLE = /^\[celeryd: [^\]]*:([A-Za-z]+)[^\]]*\]/;

/** What a command line alone says about a pre-fork server process. */
export function serverHint(commandLine: string): ServerHint | undefined {
  // setproctitle replaces the whole command line, so the title is all there is to go on.
  const gunicorn = GUNICORN_TITLE.exec(commandLine);
  if (gunicorn) return { kind: 'gunicorn', role: gunicorn[1] as ServerRole };
  const celery = CELERY_TITLE.exec(commandLine);
  if (celery) return { kind: 'celery', role: celery[1] === 'MainProcess' ? 'master' : 'worker' };

  const argv = commandLine.split(' ');
  if (argv.includes('--multiprocessing-fork') && commandLine.includes('spawn_main')) return { spawnChild: true };
  const program = programName(argv);
  if (program === 'gunicorn') return { kind: 'gunicorn' };
  if (program === 'uvicorn') return { kind: 'uvicorn' };
  if (program === 'celery' && argv.includes('worker')) return { kind: 'celery' };
  return undefined;
}

/**
 * Marks gunicorn/uvicorn/celery masters and workers. Without a process title, a worker is a server
 * process whose parent is a server of the same kind (pre-fork children share the master's command
 * line); a uvicorn worker is a `multiprocessing` spawn child of a uvicorn master. Server processes
 * count as Python even when their exe is unreadable and the title hides the interpreter.
 */
export function detectServers(processes: readonly ProcessInfo[]): ProcessInfo[] {
  const hints = new Map<number, ServerHint>();
  for (const p of processes) {
    const hint = serverHint(p.commandLine);
    if (hint) hints.set(p.pid, hint);
  }
  const roleOf = (p: ProcessInfo): ProcessInfo['server'] => {
    const hint = hints.get(p.pid);
    if (!hint) return undefined;
    const parent = hints.get(p.ppid);
    if (hint.spawnChild) return parent?.kind === 'uvicorn' ? { kind: 'uvicorn', role: 'worker' } : undefined;
    if (!hint.kind) return undefined;
    return { kind: hint.kind, role: hint.role ?? (parent?.kind === hint.kind ? 'worker' : 'master') };
  };
  return processes.map((p) => {
    const server = roleOf(p);
    return server ? { ...p, isPython: true, server } : p;
  });
}

/**
 * PyFlight's own processes, left out of the picker: its helper (`python -m pyflight_helper`) and
 * flight-profiler's client (`python -m flight_profiler.client`, which the helper runs to inject, or
 * the `flight_profiler` console script). Attaching to them is never what the user wants.
 */
export function isPyFlightOwnProcess(process: Pick<ProcessInfo, 'commandLine'>): boolean {
  const program = programName(process.commandLine.split(' '));
  return program === 'pyflight_helper' || program === 'flight_profiler' || !!program?.startsWith('flight_profiler.');
}

const SHELL_NAME = /^-?(sh|bash|dash|zsh|ksh|mksh|csh|tcsh|fish|ash|busybox)$/;

/** A command shell (by executable or argv[0]; login shells are named `-bash`). */
export function isShell(process: Pick<ProcessInfo, 'executable' | 'commandLine'>): boolean {
  return [process.executable, process.commandLine.split(' ')[0]].some((n) => !!n && SHELL_NAME.test(baseName(n)));
}
