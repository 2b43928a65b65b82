import type { BlockedOn, StackFrame, StackResult, ThreadStack } from '../protocol/helper';

/** A stdlib frame lives under the interpreter's lib/pythonX.Y but not in site-packages. */
export function isStdlibFrame(frame: StackFrame): boolean {
  const file = frame.file ?? '';
  return /\/lib\/python\d+\.\d+\//.test(file) && !file.includes('site-packages') && !file.includes('dist-packages');
}

/**
 * The frame a user recognises a stack by: the most recent Python frame of their own code (not the
 * stdlib's `Condition.wait` or `select` it waits in), else the most recent frame.
 */
export function mainFrame(frames: readonly StackFrame[]): StackFrame | undefined {
  const own = frames.filter((f) => f.kind === 'python' && !isStdlibFrame(f));
  // A comprehension or generator expression is named by the function it is written in (`build_report`,
  // not `<genexpr>`): the same statement, and the name the user knows.
  const named = own.find((f, i) => !COMPREHENSION.test(f.function ?? '') || i === own.length - 1);
  return named ?? frames[0];
}

const COMPREHENSION = /(^|\.)<(genexpr|listcomp|dictcomp|setcomp)>$/;

/** A lock as written, with whose it is when the text alone may name several: "self._lock (Account at 0x7f…)". */
export function lockName(b: { expression: string; owner?: string }): string {
  return b.owner ? `${b.expression} (${b.owner})` : b.expression;
}

/** The same lock: by its identity when the helper read one (`lock`), else by its text. */
export function sameLock(a: { expression: string; lock?: string }, b: { expression: string; lock?: string }): boolean {
  return a.lock !== undefined || b.lock !== undefined ? a.lock === b.lock : a.expression === b.expression;
}

/** "waiting for INVENTORY_LOCK", "waiting on queue JOBS"… */
export function blockedText(b: BlockedOn): string {
  switch (b.kind) {
    case 'lock':
    case 'semaphore':
      return `waiting for ${lockName(b)}`;
    case 'condition':
      return `waiting on condition ${b.expression}`;
    case 'event':
      return `waiting for event ${b.expression}`;
    case 'queue':
      return `waiting on queue ${b.expression}`;
    case 'thread':
      return `waiting for thread ${b.expression} to end`;
    case 'barrier':
      return `waiting at barrier ${b.expression}`;
    default:
      return `waiting on ${b.expression}`;
  }
}

/** "held by price-refresher" for a lock whose holder is known, else ''. */
export function heldByText(b: BlockedOn | undefined): string {
  if (b?.heldBy?.length) return `held by ${b.heldBy.join(', ')}`;
  // a queue / event nobody holds: who puts into it (sets it), for the reader to look at next
  return b?.fedBy?.length ? `fed by ${b.fedBy.join(', ')}` : '';
}

/** "holds INVENTORY_LOCK" for a thread inside a `with` of a lock others wait for, else ''. */
export function holdingText(thread: ThreadStack): string {
  return thread.holding?.length ? `holds ${thread.holding.map((h) => lockName(h) + (h.maybe ? ' (maybe)' : '')).join(', ')}` : '';
}

/**
 * What a thread does in words: "waiting for LOCK", "sleeping", "waiting in select", "running",
 * followed by "holds LOCK" when others wait for a lock it holds; '' when unknown.
 */
export function activityText(thread: ThreadStack): string {
  const holds = holdingText(thread);
  const doing = doingText(thread);
  return doing && holds ? `${doing}, ${holds}` : doing || holds;
}

function doingText(thread: ThreadStack): string {
  if (thread.blockedOn) return blockedText(thread.blockedOn);
  switch (thread.activity) {
    case 'sleeping':
      return 'sleeping';
    case 'waiting':
      return thread.waitingIn ? `waiting in ${thread.waitingIn}` : 'waiting';
    case 'running':
      return 'running';
    default:
      return '';
  }
}

function where(file: string | null, line: number | null): string {
  return file ? `${file}${line ? `:${line}` : ''}` : '?';
}

/** A thread parked on a lock or a semaphore (not a condition, an event or a queue). */
export const isLockWait = (t: ThreadStack) => t.blockedOn !== undefined && (t.blockedOn.kind === 'lock' || t.blockedOn.kind === 'semaphore');

/** Thread names that wait, through locks, on each other in a circle (each cycle once, in the order found). */
export function lockCycles(sample: StackResult): string[][] {
  const edges = new Map<string, string[]>();
  for (const t of sample.threads) if (isLockWait(t) && t.blockedOn!.heldBy?.length) edges.set(t.name, t.blockedOn!.heldBy!);
  return cyclesOf(edges);
}

/**
 * Lock cycles through at least one maybe-holder (`maybeHeldBy`: a `with y._lock:` for a wanted
 * `x._lock` whose objects' identity could not be read): probable deadlocks, for threads that never move.
 */
export function probableLockCycles(sample: StackResult): string[][] {
  const edges = new Map<string, string[]>();
  for (const t of sample.threads) {
    if (!isLockWait(t)) continue;
    const next = [...(t.blockedOn!.heldBy ?? []), ...(t.blockedOn!.maybeHeldBy ?? [])];
    if (next.length) edges.set(t.name, next);
  }
  const exact = new Set(lockCycles(sample).map((c) => [...c].sort().join('\u0000')));
  return cyclesOf(edges).filter((c) => !exact.has([...c].sort().join('\u0000')));
}

function cyclesOf(edges: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (name: string, path: string[]) => {
    const at = path.indexOf(name);
    if (at >= 0) {
      const cycle = path.slice(at);
      const key = [...cycle].sort().join('\u0000');
      if (!seen.has(key)) { seen.add(key); cycles.push(cycle); }
      return;
    }
    for (const next of edges.get(name) ?? []) visit(next, [...path, name]);
  };
  for (const name of edges.keys()) visit(name, []);
  return cycles;
}

/**
 * A lock cycle in words: "Deadlock: transfer waits for AUDIT_LOCK held by audit; audit waits for
 * ACCOUNTS_LOCK held by transfer". One snapshot: the hang diagnosis checks it lasts.
 */
export function deadlockText(result: StackResult, cycle: readonly string[]): string {
  const waits = cycle.map((name, i) => {
    const t = result.threads.find((x) => x.name === name);
    return `${name} waits for ${t?.blockedOn ? lockName(t.blockedOn) : 'a lock'} held by ${cycle[(i + 1) % cycle.length]}`;
  });
  return `Deadlock: ${waits.join('; ')}`;
}

/**
 * A probable lock cycle in words (locks of the same name whose objects could not be told apart):
 * "Probably a deadlock: transfer-a-b waits for other._lock, perhaps held by transfer-b-a; …".
 */
export function probableDeadlockText(result: StackResult, cycle: readonly string[]): string {
  const waits = cycle.map((name, i) => {
    const t = result.threads.find((x) => x.name === name);
    return `${name} waits for ${t?.blockedOn ? lockName(t.blockedOn) : 'a lock'}, perhaps held by ${cycle[(i + 1) % cycle.length]}`;
  });
  return `Probably a deadlock: ${waits.join('; ')} (the locks' objects could not be told apart)`;
}

/** Threads blocked on the same lock (same expression at the same line), most threads first. */
export function blockedSummary(threads: readonly ThreadStack[]): Array<{ blockedOn: BlockedOn; threads: ThreadStack[] }> {
  const byLock = new Map<string, { blockedOn: BlockedOn; threads: ThreadStack[] }>();
  for (const t of threads) {
    if (!t.blockedOn || t.activity !== 'blocked') continue;
    const key = `${t.blockedOn.lock ?? t.blockedOn.expression}@${t.blockedOn.file}:${t.blockedOn.line}`;
    const entry = byLock.get(key) ?? { blockedOn: t.blockedOn, threads: [] };
    entry.threads.push(t);
    byLock.set(key, entry);
  }
  return [...byLock.values()].sort((a, b) => b.threads.length - a.threads.length);
}

/**
 * True when most threads (with Python frames) are running code rather than waiting, sleeping or
 * blocked: then one snapshot says little about where the time goes; several, or a profile, do.
 */
export function mostlyRunning(result: StackResult): boolean {
  const known = result.threads.filter((t) => t.activity);
  const running = known.filter((t) => t.activity === 'running').length;
  return known.length > 0 && running * 2 > known.length;
}

export const NOT_A_PROFILE = 'Most threads are running code: one snapshot is not a profile. Refresh a few times, or Trace the function that keeps showing up.';

/** Plain-text rendering of a stack dump, shared by the CLI and "Export Stacks to File…". */
export function formatStacks(result: StackResult): string {
  const lines: string[] = [];
  lines.push(`Process ${result.pid} — stacks captured ${new Date(result.capturedAt).toISOString()}`);
  for (const cycle of lockCycles(result)) lines.push(`${deadlockText(result, cycle)}.`);
  for (const cycle of probableLockCycles(result)) lines.push(`${probableDeadlockText(result, cycle)}.`);
  for (const { blockedOn, threads } of blockedSummary(result.threads)) {
    const held = heldByText(blockedOn);
    lines.push(`${threads.length === 1 ? '1 thread' : `${threads.length} threads`} ${blockedText(blockedOn)} (${where(blockedOn.file, blockedOn.line)}): ${threads.map((t) => t.name).join(', ')}${held ? ` — ${held}` : ''}`);
  }
  if (mostlyRunning(result)) lines.push(NOT_A_PROFILE);
  for (const thread of result.threads) {
    const flags = [thread.holdsGil ? 'holds GIL' : '', thread.gcCollecting ? 'GC running' : '', thread.daemon ? 'daemon' : '']
      .filter(Boolean).join(', ');
    const doing = activityText(thread);
    const at = thread.blockedOn && thread.blockedOn.file ? ` at ${where(thread.blockedOn.file, thread.blockedOn.line)}` : '';
    lines.push('', `Thread ${thread.tid} "${thread.name}"${flags ? ` (${flags})` : ''}${doing ? ` — ${doing}${at}` : ''}`);
    for (const frame of thread.frames) lines.push(`    ${formatFrame(frame)}`);
    if (thread.nativeFrames?.length) {
      lines.push('  native:');
      for (const frame of thread.nativeFrames) lines.push(`    ${formatFrame(frame)}`);
    }
  }
  if (result.hiddenAgentThreads) lines.push('', `(${result.hiddenAgentThreads} profiler agent threads hidden)`);
  if (result.asyncTasks) {
    lines.push('', `Async tasks: ${result.asyncTasks.length}`);
    for (const task of result.asyncTasks) {
      lines.push('', `Task "${task.name}" on thread "${task.thread}" (${task.running ? 'RUNNING NOW' : task.state ?? 'unknown'}) ${task.coroutine ?? ''}`.trimEnd());
      for (const frame of task.frames) lines.push(`    ${formatFrame(frame)}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function formatFrame(frame: StackFrame): string {
  const where = frame.file ? `${frame.file}${frame.line ? `:${frame.line}` : ''}` : frame.library ?? '?';
  return `${frame.function} (${where})`;
}

/** Threads that share one exact Python stack; size 1 for a thread whose stack is its own. */
export interface StackGroup {
  threads: ThreadStack[];
  frames: StackFrame[];
}

/**
 * Groups threads with identical Python stacks, biggest group first: "4 threads are all waiting
 * at the same line" is usually the first thing to see in a hung or slow service. Threads keep
 * their original order inside a group, and groups of one keep theirs.
 */
export function groupIdenticalStacks(threads: readonly ThreadStack[]): StackGroup[] {
  const groups = new Map<string, StackGroup>();
  for (const thread of threads) {
    const key = thread.frames.length ? thread.frames.map((f) => `${f.file}:${f.line}:${f.function}`).join('|') : `empty:${thread.tid}`;
    const group = groups.get(key);
    if (group) group.threads.push(thread);
    else groups.set(key, { threads: [thread], frames: thread.frames });
  }
  return [...groups.values()].sort((a, b) => (b.threads.length > 1 ? b.threads.length : 0) - (a.threads.length > 1 ? a.threads.length : 0));
}
