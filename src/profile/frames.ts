/**
 * One frame of a py-spy stack: its text (`name (file:line)` for Python frames, `name (library.so)`
 * or `0x7f… (library.so)` for native ones) parsed, and what kind of code it is (own code, library,
 * stdlib, native, idle), told by path. Pure functions, no I/O, no vscode.
 */

/** own: under the workspace root; library: site-/dist-packages (or outside the root); stdlib: the
 * interpreter's lib/pythonX.Y; native: C/C++/Rust code (no .py file); idle: a known wait function. */
export type FrameKind = 'own' | 'library' | 'stdlib' | 'native' | 'idle';

export interface ParsedFrame {
  name: string;
  file?: string;
  line?: number;
}

export interface FrameInfo extends ParsedFrame {
  /** Dotted module for Python files (`json.encoder`), the library's file name for native frames. */
  module?: string;
  kind: FrameKind;
}

export interface ClassifyOptions {
  /** Files under these folders are own code (the VS Code workspace). Without any, every Python
   * file that is not a library or the standard library is own code. */
  workspaceRoots?: string[];
  /** The standard library folders of the target's interpreter (e.g. `/usr/lib/python3.11`); files
   * under `…/lib/pythonX.Y/` outside site-packages count as stdlib without it. */
  stdlibDirs?: string[];
  /** The profile was recorded with idle threads (`--idle`): known wait functions are `idle`. */
  idle?: boolean;
}

const FRAME = /^(.*) \(([^()]*)\)$/;

/** `name (file:line)` → its parts; `name (file)` for native frames; a bare name as is. */
export function parseFrame(text: string): ParsedFrame {
  const m = FRAME.exec(text);
  if (!m) return { name: text };
  const [, name, where] = m;
  const colon = /^(.*):(\d+)$/.exec(where);
  if (colon) return { name, file: colon[1], line: Number(colon[2]) };
  return where ? { name, file: where } : { name };
}

/** Python-level functions that wait (in the standard library). */
const PY_WAIT = new Set([
  'Condition.wait', 'Event.wait', 'Thread.join', 'Thread._wait_for_tstate_lock', 'Semaphore.acquire', 'Barrier.wait',
  'Queue.get', 'Queue.put', 'SimpleQueue.get', 'BaseSelector.select', 'SelectSelector.select', 'PollSelector.select',
  'EpollSelector.select', 'DevpollSelector.select', 'KqueueSelector.select', 'socket.accept', 'Popen.wait', 'Popen._wait',
  'Popen.communicate', 'wait', 'select', 'accept', 'get',
]);
/** Native functions that wait: sleeping, polling, locks, blocking I/O. */
const NATIVE_WAIT = new Set([
  'clock_nanosleep', '__clock_nanosleep', 'nanosleep', '__nanosleep', 'time_sleep', 'pysleep', 'select', '__select',
  'poll', '__poll', 'ppoll', 'epoll_wait', 'epoll_pwait', 'kevent', 'pthread_cond_wait', 'pthread_cond_timedwait',
  '__pthread_cond_wait', '__pthread_cond_timedwait', '___pthread_cond_wait', '___pthread_cond_timedwait',
  'pthread_cond_clockwait', '__futex_abstimed_wait_common', '__futex_abstimed_wait_common64', 'futex_wait',
  '__lll_lock_wait', 'do_futex_wait', 'sem_wait', 'sem_timedwait', 'sem_clockwait', '__new_sem_wait_slow64',
  'PyThread_acquire_lock_timed', 'acquire_timed', 'lock_PyThread_acquire_lock', 'rlock_acquire', 'accept', 'accept4',
  '__libc_accept', 'recv', 'recvfrom', '__libc_recv', '__libc_recvfrom', 'read', '__libc_read', 'waitpid', 'wait4',
  '__wait4', 'sock_recv', 'sock_accept', 'select_select', 'select_epoll_poll', 'select_poll_poll',
]);

const SITE = /[\\/](site|dist)-packages[\\/]/;
const STDLIB = /[\\/]lib[\\/]python\d+\.\d+[a-z]*[\\/]/i;
const PYTHON_FILE = /\.pyw?$/;

function under(file: string, dirs: string[] | undefined): string | undefined {
  for (const dir of dirs ?? []) {
    const root = dir.endsWith('/') ? dir : dir + '/';
    if (file.startsWith(root)) return file.slice(root.length);
  }
  return undefined;
}

function dotted(relative: string): string {
  const parts = relative.replace(PYTHON_FILE, '').split(/[\\/]/).filter(Boolean);
  if (parts.length > 1 && parts[parts.length - 1] === '__init__') parts.pop();
  return parts.join('.');
}

/** What a file tells of its frames: their kind (before the wait rule, which needs the name) and module. */
export interface FileClass {
  kind: Exclude<FrameKind, 'idle'>;
  module?: string;
}

/** What kind of code a frame is, and its module where the path tells. */
export function classifyFrame(frame: ParsedFrame, options: ClassifyOptions = {}): FrameInfo {
  return frameInfo(frame, classifyFile(frame.file, options), options);
}

/** A frame's info from its file's class (classifyFile, which a caller may keep per file): a wait
 * function is `idle` when the profile has idle frames. */
export function frameInfo(frame: ParsedFrame, { kind, module }: FileClass, options: ClassifyOptions = {}): FrameInfo {
  const waits = options.idle && (kind === 'native' ? NATIVE_WAIT.has(frame.name) : kind === 'stdlib' && isWaitFrame(frame.name, module!));
  // Built key by key, not spread: a profile describes thousands of frames.
  const info: FrameInfo = { name: frame.name, kind: waits ? 'idle' : kind };
  if (frame.file !== undefined) info.file = frame.file;
  if (frame.line !== undefined) info.line = frame.line;
  if (module) info.module = module;
  return info;
}

/** The kind and module of the frames in `file` (none: a native frame with no library). */
export function classifyFile(file: string | undefined, options: ClassifyOptions = {}): FileClass {
  const frozen = file ? /^<frozen (.+)>$/.exec(file) : null;
  const isPython = Boolean(file && (PYTHON_FILE.test(file) || file.startsWith('<')));
  if (!file || !isPython || /\.so(\.|$)/.test(file)) return { kind: 'native', module: file ? file.split(/[\\/]/).pop() : undefined };
  const site = SITE.exec(file);
  const stdlibMatch = site ? null : STDLIB.exec(file);
  const stdlibRel = under(file, options.stdlibDirs) ?? (stdlibMatch ? file.slice(stdlibMatch.index + stdlibMatch[0].length) : undefined);
  if (frozen || (!site && stdlibRel !== undefined)) return { kind: 'stdlib', module: frozen ? frozen[1] : dotted(stdlibRel!) };
  if (site) return { kind: 'library', module: dotted(file.slice(site.index + site[0].length)) };
  // Code compiled from a string (`<string>`, jinja's `<template>`) has no module to tell.
  const fileModule = file.startsWith('<') ? undefined : dotted(file.split(/[\\/]/).pop()!);
  const roots = options.workspaceRoots?.filter(Boolean) ?? [];
  if (!roots.length) return { kind: 'own', module: fileModule };
  const rel = under(file, roots);
  return rel !== undefined ? { kind: 'own', module: dotted(rel) } : { kind: 'library', module: fileModule };
}

/** Bare names (`wait`, `get`, `select`) count as waiting only in the modules known to wait. */
function isWaitFrame(name: string, module: string): boolean {
  if (!PY_WAIT.has(name)) return false;
  if (name.includes('.')) return true;
  return ['threading', 'queue', 'selectors', 'socket', 'subprocess', 'multiprocessing.connection', 'multiprocessing.queues',
    'concurrent.futures.thread'].includes(module);
}
