/**
 * The CPU profile model: py-spy's collapsed stacks (`--format raw`: `frame;frame;… count`, root
 * first) → an aggregated call tree and a list of hot functions. Pure functions, no I/O, no vscode.
 *
 * A frame's text is `name (file:line)` for Python frames, `name (library.so)` or
 * `0x7f… (library.so)` for native ones (`--native`). The line is where that frame was when sampled:
 * the executing line for the leaf, the call site for its callers.
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

/** One distinct stack and how many samples had it. Frames root first, as py-spy writes them. */
export interface CollapsedStack {
  frames: string[];
  count: number;
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

export interface CallTreeNode {
  name: string;
  file?: string;
  /** The line with the most samples in this node (for a caller: the call site it spent most time under). */
  line?: number;
  module?: string;
  kind: FrameKind;
  /** Samples where this node was the leaf. */
  self: number;
  /** Samples where this node was on the stack. */
  total: number;
  /** Samples per line of this node (total). */
  lines: Record<number, number>;
  children: CallTreeNode[];
}

export interface HotFunction {
  function: string;
  module?: string;
  file?: string;
  /** The line with the most self samples (or the most samples, for a function that is never the leaf). */
  line?: number;
  kind: FrameKind;
  self: number;
  selfPercent: number;
  /** Samples with the function anywhere on the stack (counted once per stack, recursion included). */
  total: number;
  totalPercent: number;
}

export interface CpuProfile {
  /** Stack samples, summed over threads (a sample of two busy threads counts twice). */
  samples: number;
  /** Root node (`name: "all"`), children sorted by total, descending. */
  tree: CallTreeNode;
  /** Every function, by self samples, descending. */
  hot: HotFunction[];
  /** The merged stacks the model was built from (for exports). */
  stacks: CollapsedStack[];
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

/** Parses collapsed stacks text; blank or malformed lines are skipped. */
export function parseCollapsed(text: string): CollapsedStack[] {
  const stacks: CollapsedStack[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const space = line.lastIndexOf(' ');
    if (space <= 0) continue;
    const count = Number(line.slice(space + 1));
    if (!Number.isInteger(count) || count <= 0) continue;
    stacks.push({ frames: line.slice(0, space).split(';'), count });
  }
  return stacks;
}

/** Adds `more` into `into` (same stacks summed), returning `into`. Used to merge 1-second chunks. */
export function mergeStacks(into: Map<string, number>, more: CollapsedStack[]): Map<string, number> {
  for (const s of more) {
    const key = s.frames.join(';');
    into.set(key, (into.get(key) ?? 0) + s.count);
  }
  return into;
}

export function stacksOf(merged: Map<string, number>): CollapsedStack[] {
  return [...merged].map(([key, count]) => ({ frames: key.split(';'), count }));
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

/** What kind of code a frame is, and its module where the path tells. */
export function classifyFrame(frame: ParsedFrame, options: ClassifyOptions = {}): FrameInfo {
  const { file } = frame;
  const info = (kind: FrameKind, module?: string): FrameInfo => ({ ...frame, ...(module ? { module } : {}), kind });
  const frozen = file ? /^<frozen (.+)>$/.exec(file) : null;
  const isPython = Boolean(file && (PYTHON_FILE.test(file) || file.startsWith('<')));
  if (!file || !isPython || /\.so(\.|$)/.test(file)) {
    const module = file ? file.split(/[\\/]/).pop() : undefined;
    return info(options.idle && NATIVE_WAIT.has(frame.name) ? 'idle' : 'native', module);
  }
  const site = SITE.exec(file);
  const stdlibMatch = site ? null : STDLIB.exec(file);
  const stdlibRel = under(file, options.stdlibDirs) ?? (stdlibMatch ? file.slice(stdlibMatch.index + stdlibMatch[0].length) : undefined);
  if (frozen || (!site && stdlibRel !== undefined)) {
    const module = frozen ? frozen[1] : dotted(stdlibRel!);
    return info(options.idle && isWaitFrame(frame.name, module) ? 'idle' : 'stdlib', module);
  }
  if (site) return info('library', dotted(file.slice(site.index + site[0].length)));
  // Code compiled from a string (`<string>`, jinja's `<template>`) has no module to tell.
  const fileModule = file.startsWith('<') ? undefined : dotted(file.split(/[\\/]/).pop()!);
  const roots = options.workspaceRoots?.filter(Boolean) ?? [];
  if (!roots.length) return info('own', fileModule);
  const rel = under(file, roots);
  return rel !== undefined ? info('own', dotted(rel)) : info('library', fileModule);
}

/** Bare names (`wait`, `get`, `select`) count as waiting only in the modules known to wait. */
function isWaitFrame(name: string, module: string): boolean {
  if (!PY_WAIT.has(name)) return false;
  if (name.includes('.')) return true;
  return ['threading', 'queue', 'selectors', 'socket', 'subprocess', 'multiprocessing.connection', 'multiprocessing.queues',
    'concurrent.futures.thread'].includes(module);
}

function newNode(info: FrameInfo): CallTreeNode {
  return { name: info.name, file: info.file, module: info.module, kind: info.kind, self: 0, total: 0, lines: {}, children: [] };
}

/** Builds the call tree and the hot list from merged stacks. */
export function buildProfile(stacks: CollapsedStack[], options: ClassifyOptions = {}): CpuProfile {
  // Hot loop: a frame occurrence per stack depth (millions on a big profile). Frame texts are
  // classified once, node keys are interned, line counts go to Maps (turned into records at the end).
  interface Frame { info: FrameInfo; key: string; idleKey: string }
  const frameCache = new Map<string, Frame>();
  const frameOf = (text: string): Frame => {
    let frame = frameCache.get(text);
    if (!frame) {
      const info = classifyFrame(parseFrame(text), options);
      frame = { info, key: `${info.name}\0${info.file ?? ''}\0${info.kind}`, idleKey: `${info.name}\0${info.file ?? ''}\0idle` };
      frameCache.set(text, frame);
    }
    return frame;
  };
  const root: CallTreeNode = { name: 'all', kind: 'own', self: 0, total: 0, lines: {}, children: [] };
  // Children are found by key: a scan for the few children most nodes have, an index past that
  // (a Map per node would be millions of Maps, and the garbage collector's time, on a big profile).
  const keyOf = new Map<CallTreeNode, string>();
  const childIndex = new Map<CallTreeNode, Map<string, CallTreeNode>>();
  const findChild = (node: CallTreeNode, key: string): CallTreeNode | undefined => {
    const index = childIndex.get(node);
    if (index) return index.get(key);
    for (const child of node.children) if (keyOf.get(child) === key) return child;
    return undefined;
  };
  const addChild = (node: CallTreeNode, key: string, child: CallTreeNode) => {
    node.children.push(child);
    keyOf.set(child, key);
    let index = childIndex.get(node);
    if (!index && node.children.length > 8) {
      childIndex.set(node, index = new Map());
      for (const c of node.children) index.set(keyOf.get(c)!, c);
    }
    index?.set(key, child);
  };
  interface Acc { info: FrameInfo; self: number; total: number; selfLines: Map<number, number>; lines: Map<number, number>; lastStack: number }
  const functions = new Map<string, Acc>();
  const add = (counts: Map<number, number>, line: number, n: number) => counts.set(line, (counts.get(line) ?? 0) + n);
  let samples = 0;
  stacks.forEach((stack, stackIndex) => {
    const count = stack.count;
    samples += count;
    root.total += count;
    let node = root;
    const frames = stack.frames.map(frameOf);
    // Whatever a wait function calls is waiting too (a lock's futex, an unsymbolized libc address).
    const waitsAt = options.idle ? frames.findIndex((f) => f.info.kind === 'idle') : -1;
    const last = frames.length - 1;
    for (let depth = 0; depth <= last; depth++) {
      const frame = frames[depth];
      const idle = waitsAt >= 0 && depth > waitsAt && frame.info.kind !== 'idle';
      const info = idle ? { ...frame.info, kind: 'idle' as const } : frame.info;
      const key = idle ? frame.idleKey : frame.key;
      let child = findChild(node, key);
      if (!child) {
        child = newNode(info);
        addChild(node, key, child);
      }
      child.total += count;
      const leaf = depth === last;
      if (info.line !== undefined) child.lines[info.line] = (child.lines[info.line] ?? 0) + count;
      if (leaf) child.self += count;
      node = child;

      let acc = functions.get(key);
      if (!acc) functions.set(key, acc = { info, self: 0, total: 0, selfLines: new Map(), lines: new Map(), lastStack: -1 });
      if (acc.lastStack !== stackIndex) {
        acc.lastStack = stackIndex; // a function counts once per stack (recursion)
        acc.total += count;
      }
      if (info.line !== undefined) add(acc.lines, info.line, count);
      if (leaf) {
        acc.self += count;
        if (info.line !== undefined) add(acc.selfLines, info.line, count);
      }
    }
  });
  finishNode(root);
  const percent = (n: number) => (samples ? Math.round((n / samples) * 10000) / 100 : 0);
  const hot: HotFunction[] = [...functions.values()].map((acc) => {
    const line = topKey(acc.selfLines) ?? topKey(acc.lines);
    return {
      function: acc.info.name, ...(acc.info.module ? { module: acc.info.module } : {}), ...(acc.info.file ? { file: acc.info.file } : {}),
      ...(line !== undefined ? { line } : {}), kind: acc.info.kind,
      self: acc.self, selfPercent: percent(acc.self), total: acc.total, totalPercent: percent(acc.total),
    };
  }).sort((a, b) => b.self - a.self || b.total - a.total || a.function.localeCompare(b.function));
  return { samples, tree: root, hot, stacks };
}

function topKey(counts: Map<number, number>): number | undefined {
  let best: number | undefined;
  let bestCount = -1;
  for (const [key, count] of counts) if (count > bestCount || (count === bestCount && key < best!)) [best, bestCount] = [key, count];
  return best;
}

function finishNode(node: CallTreeNode): void {
  let bestLine: number | undefined;
  let bestCount = -1;
  for (const [line, count] of Object.entries(node.lines)) {
    if (count > bestCount) [bestLine, bestCount] = [Number(line), count];
  }
  if (bestLine !== undefined) node.line = bestLine;
  node.children.sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
  for (const child of node.children) finishNode(child);
}

/** The path from the root that always takes the child with the most samples, until a node's own
 * samples outweigh every child's. */
export function hottestPath(profile: CpuProfile): CallTreeNode[] {
  const path: CallTreeNode[] = [];
  let node = profile.tree;
  while (node.children.length) {
    const next = node.children[0];
    if (node !== profile.tree && node.self > next.total) break;
    path.push(next);
    node = next;
  }
  return path;
}

/** The functions worth showing first: own code and libraries (not stdlib, native or idle). */
export function hotOwnAndLibrary(profile: CpuProfile): HotFunction[] {
  return profile.hot.filter((f) => f.kind === 'own' || f.kind === 'library');
}
