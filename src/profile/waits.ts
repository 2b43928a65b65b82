/**
 * What waiting looks like in a CPU sample: one table, read by the call tree (idle samples in the
 * flame graph, hot table and per-line heat) and by the diagnosis (own-code time). py-spy decides
 * "active or idle" from the thread's state when it samples, and on a busy machine a thread that
 * just woke from `time.sleep` is runnable but not yet running, so it counts as active (a 5 ms sleep
 * showed as "4.9 % self", gunicorn's idle `SyncWorker.wait` ranked first on a loaded worker). So a
 * sample is idle here by what its frames say, whatever py-spy's flag said. Pure, no I/O.
 */

/** Python-level functions of the standard library that wait (their samples are waiting, and so is
 * everything they call). Bare names count only in the modules of `BARE_WAIT_MODULES`. */
const PY_WAIT = new Set([
  'Condition.wait', 'Condition.wait_for', 'Event.wait', 'Thread.join', 'Thread._wait_for_tstate_lock', 'Semaphore.acquire',
  'BoundedSemaphore.acquire', 'Barrier.wait', 'Barrier._wait', 'Queue.get', 'Queue.put', 'SimpleQueue.get',
  'BaseSelector.select', 'SelectSelector.select', 'PollSelector.select', 'EpollSelector.select', 'DevpollSelector.select',
  'KqueueSelector.select', 'socket.accept', 'Popen.wait', 'Popen._wait', 'Popen._try_wait', 'Popen.communicate',
  'wait', 'select', 'accept', 'get',
]);
const BARE_WAIT_MODULES = new Set(['threading', 'queue', 'selectors', 'socket', 'subprocess', 'multiprocessing.connection',
  'multiprocessing.queues', 'concurrent.futures.thread']);

/** Native functions that wait: sleeping, polling, locks, blocking I/O (`--native` profiles). */
export const NATIVE_WAIT = new Set([
  'clock_nanosleep', '__clock_nanosleep', 'nanosleep', '__nanosleep', 'time_sleep', 'pysleep', 'select', '__select',
  'poll', '__poll', 'ppoll', 'epoll_wait', 'epoll_pwait', 'kevent', 'pthread_cond_wait', 'pthread_cond_timedwait',
  '__pthread_cond_wait', '__pthread_cond_timedwait', '___pthread_cond_wait', '___pthread_cond_timedwait',
  'pthread_cond_clockwait', '__futex_abstimed_wait_common', '__futex_abstimed_wait_common64', 'futex_wait',
  '__lll_lock_wait', 'do_futex_wait', 'sem_wait', 'sem_timedwait', 'sem_clockwait', '__new_sem_wait_slow64',
  'PyThread_acquire_lock_timed', 'acquire_timed', 'lock_PyThread_acquire_lock', 'rlock_acquire', 'accept', 'accept4',
  '__libc_accept', 'recv', 'recvfrom', '__libc_recv', '__libc_recvfrom', 'read', '__libc_read', 'waitpid', 'wait4',
  '__wait4', 'sock_recv', 'sock_accept', 'select_select', 'select_epoll_poll', 'select_poll_poll', 'uv__io_poll',
]);

/**
 * Python functions whose *own* samples (as the leaf) are a wait: they call a blocking C function
 * directly, which has no frame of its own without `--native`. By module, then qualified name. The
 * idle loops of servers are here, so a loaded worker's idle time never ranks first.
 */
const LEAF_WAIT: Record<string, readonly string[]> = {
  'concurrent.futures.thread': ['_worker'], // work_queue.get(block=True): a pool thread between tasks
  'multiprocessing.connection': ['Connection._recv'], // os.read on the pipe
  'gunicorn.workers.sync': ['SyncWorker.wait'], // select.select on the listeners
  'gunicorn.arbiter': ['Arbiter.sleep', 'Arbiter.wait_for_signals'], // the master: select / SIG_QUEUE.get(block=True)
  'uvicorn.server': ['Server.run'], // asyncio.run on uvloop: the loop is native, a callback in Python has frames below
};
const LEAF_WAIT_KEYS = new Set(Object.entries(LEAF_WAIT).flatMap(([module, names]) => names.map((n) => `${module}\0${n}`)));

/**
 * A source line that sleeps, waits for I/O or takes a lock: the leaf sample of a Python frame at
 * such a line is waiting in the C call it makes (the helper's blocking.py reads stack lines the
 * same way). Python-level waits (Event.wait, queue.get, Thread.join) have their own stdlib frame on
 * top and are told by PY_WAIT instead.
 */
export const BLOCKING_LINE = new RegExp([
  String.raw`(?<![\w.])(?:time\.|asyncio\.)?sleep\s*\(`,
  String.raw`\.(recv|recv_into|recvfrom|accept|connect|sendall|select|poll|epoll|getaddrinfo|acquire)\s*\(`,
  String.raw`(?<![\w.])(input|select)\s*\(`,
  String.raw`^\s*(async\s+)?with\b[^#]*(lock|mutex|semaphore|condition)\w*\s*(:|,|\))`,
].join('|'), 'i');

/** A frame kind as frames.ts tells it (before waiting is decided). */
type CodeKind = 'own' | 'library' | 'stdlib' | 'native';

/** True when a frame is a function that waits (its samples, and those of what it calls, are idle). */
export function isWaitFunction(name: string, kind: CodeKind, module: string | undefined): boolean {
  if (kind === 'native') return NATIVE_WAIT.has(name);
  if (kind !== 'stdlib' || !PY_WAIT.has(name)) return false;
  return name.includes('.') || BARE_WAIT_MODULES.has(module ?? '');
}

/** True when a frame that is the leaf of a sample waits: a function that blocks in C itself
 * (LEAF_WAIT), or its line (when `lineText` can read it) is a blocking call. */
export function leafWaits(frame: { name: string; file?: string; line?: number; module?: string; kind: CodeKind },
  lineText?: (file: string, line: number) => string | undefined): boolean {
  if (frame.kind === 'native') return false;
  if (frame.module !== undefined && LEAF_WAIT_KEYS.has(`${frame.module}\0${frame.name}`)) return true;
  if (!lineText || !frame.file || frame.line === undefined || frame.file.startsWith('<')) return false;
  return BLOCKING_LINE.test(lineText(frame.file, frame.line) ?? '');
}
