/**
 * The CPU profile model: py-spy's collapsed stacks (`--format raw`: `frame;frame;… count`, root
 * first) → an aggregated call tree and a list of hot functions. Pure functions, no I/O, no vscode.
 *
 * A frame's text is `name (file:line)` for Python frames, `name (library.so)` or
 * `0x7f… (library.so)` for native ones (`--native`). The line is where that frame was when sampled:
 * the executing line for the leaf, the call site for its callers.
 */
import { CallTree, topKey } from './callTree';
import { classifyFrame, parseFrame, type ClassifyOptions, type FrameInfo, type FrameKind } from './frames';

export { classifyFrame, parseFrame, type ClassifyOptions, type FrameInfo, type FrameKind, type ParsedFrame } from './frames';

/** One distinct stack and how many samples had it. Frames root first, as py-spy writes them. */
export interface CollapsedStack {
  frames: string[];
  count: number;
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
  /** The call tree as arrays: what the flame graph, zoom and search read (callTree.ts). */
  calls: CallTree;
  /** The same tree as objects (made on first use: a big profile has millions of nodes). Root node
   * (`name: "all"`), children sorted by total, descending. */
  readonly tree: CallTreeNode;
  /** Every function, by self samples, descending. */
  hot: HotFunction[];
  /** The merged stacks the model was built from (for exports; made on first use). */
  readonly stacks: CollapsedStack[];
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

function newNode(info: FrameInfo): CallTreeNode {
  return { name: info.name, file: info.file, module: info.module, kind: info.kind, self: 0, total: 0, lines: {}, children: [] };
}

/** Builds the call tree and the hot list from merged stacks. */
export function buildProfileOld(stacks: CollapsedStack[], options: ClassifyOptions = {}): Omit<CpuProfile, 'calls'> {
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

/** Builds the call tree and the hot list from stacks. */
export function buildProfile(stacks: readonly CollapsedStack[], options: ClassifyOptions = {}): CpuProfile {
  const calls = new CallTree(options);
  for (const stack of stacks) calls.addStack(stack.frames, stack.count);
  return profileOf(calls);
}

/** Builds the profile straight from collapsed text (the fast path: no per-line objects). */
export function profileFromCollapsed(text: string, options: ClassifyOptions = {}): CpuProfile {
  const calls = new CallTree(options);
  calls.addCollapsedText(text);
  return profileOf(calls);
}

/** The profile of a call tree as it is now: the hot list is made here, the object tree and the stacks on first use. */
export function profileOf(calls: CallTree): CpuProfile {
  const samples = calls.samples;
  const percent = (n: number) => (samples ? Math.round((n / samples) * 10000) / 100 : 0);
  const hot: HotFunction[] = calls.functionTotals().map(({ info, self, total, selfLines, lines }) => {
    const line = topKey(selfLines) ?? topKey(lines);
    return {
      function: info.name, ...(info.module ? { module: info.module } : {}), ...(info.file ? { file: info.file } : {}),
      ...(line !== undefined ? { line } : {}), kind: info.kind,
      self, selfPercent: percent(self), total, totalPercent: percent(total),
    };
  }).sort((a, b) => b.self - a.self || b.total - a.total || a.function.localeCompare(b.function));
  let tree: CallTreeNode | undefined;
  let stacks: CollapsedStack[] | undefined;
  return {
    samples, calls, hot,
    get tree() {
      return tree ??= calls.toNodes<CallTreeNode>((id, children) => {
        const info = calls.info(id);
        const line = calls.line(id);
        return { name: info.name, ...(info.file !== undefined ? { file: info.file } : {}), ...(line !== undefined ? { line } : {}),
          ...(info.module !== undefined ? { module: info.module } : {}), kind: info.kind, self: calls.self(id), total: calls.total(id),
          lines: calls.lines(id), children };
      });
    },
    get stacks() {
      return stacks ??= calls.stacks();
    },
  };
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
