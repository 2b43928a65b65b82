/**
 * The CPU profile's call tree in flat typed arrays, built incrementally from collapsed stacks
 * (py-spy's `--format raw` text, or its 1-second chunks while recording). A profile of 1 M
 * samples over 100 k distinct stacks has about 1.4 M nodes: as objects (one per node, a record of
 * lines, a children array) the build was bound by the garbage collector (18 s); as arrays it is
 * two passes: the text into frame ids (frameTexts.ts, stackList.ts), then the ids into nodes.
 * Frame texts are interned once; a node is a (parent, function) pair found through its parent's
 * child list, or an open-addressing hash for parents with many children. Most of a new stack is new
 * nodes (a chain under the first unknown frame): they are made without a probe. Per node only what
 * a sample changes is written, in arrays as narrow as their values (a big profile's arrays are
 * tens of MB, and faulting their pages in is a real part of the build). Pure, no I/O, no vscode.
 *
 * Node 0 is the root ("all"). A node's id is greater than its parent's (nodes are only ever
 * appended), so one forward pass over the ids visits parents before children.
 */
import { classifyFile, frameInfo, parseFrame, type ClassifyOptions, type FileClass, type FrameInfo, type FrameKind } from './frames';
import { estimateFrames, FrameTexts } from './frameTexts';
import { StackFlag, StackList, type StackMark } from './stackList';
import { isBootstrapFrame, isPyflightCode, parseThreadFrame, PyflightThreads, type ThreadRef } from './threads';
import { leafWaits } from './waits';

/** A function of the profile: what a node is (name + file + kind; the line varies by node). */
export interface FunctionInfo extends FrameInfo {
  /** Lower-cased `name` and `file`, for search. */
  readonly searchText: string;
}

/** A differential profile's per-node change (see diff.ts). */
export interface NodeDiff {
  beforeSelf: number;
  beforeTotal: number;
  delta: number;
  selfDelta: number;
}

/** A call tree node as an object (JSON output, exports, the diff). */
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
  /** Of `total`, samples that wait (sleep, I/O, a lock: waits.ts); absent when none. */
  idle?: number;
  /** Samples per line of this node (total). */
  lines: Record<number, number>;
  children: CallTreeNode[];
}

export interface SearchResult {
  /** 1 for a node whose function name or file contains the query. */
  matches: Uint8Array;
  matchCount: number;
  /** Samples under a match (a match inside another match is not counted twice). */
  matchedSamples: number;
}

const NONE = -1;
/** The end of a child list (see firstChild). */
const END = 0;
/** Below this many children a node's children are found through its child list (see childCount). */
const FEW_CHILDREN = 8;
/** `lineOf` a node with no samples yet: 0, so new arrays need no filling. */
const UNSEEN = 0;
/** `lineOf` a node (and `frameLine` of a frame) with no line: a native frame (a Python frame at line 0 has none either). */
const NO_LINE = -1;
/** `lineOf` a node seen at several lines (or with and without one): its samples per line are in `moreLines`. */
const MANY_LINES = -2;

const ROOT_INFO: FunctionInfo = { name: 'all', kind: 'own', searchText: '' };

/** What a frame text is, beyond its function (bits of `frameFlags`). */
const FrameFlag = {
  /** threading's or a pool's bootstrap frame: a thread's own function is below it. */
  Bootstrap: 1,
  /** flight-profiler's or PyFlight's code (threads.ts). */
  Pyflight: 2,
  /** As the leaf, this frame waits (waits.ts: a blocking line, a function that blocks in C). */
  LeafWaits: 4,
  /** A function that waits (kind idle). */
  Waits: 8,
} as const;

function grow<T extends Uint8Array | Int32Array | Float64Array>(array: T, size: number): T {
  const next = new (array.constructor as new (n: number) => T)(size);
  next.set(array);
  return next;
}

export class CallTree {
  // Interned frame texts (`name (file:line)`): the function each is, and its line.
  private readonly frames = new FrameTexts();
  private readonly frameFn: number[] = [];
  private readonly frameIdleFn: number[] = [];
  private readonly frameLine: number[] = [];
  private readonly frameFlags: number[] = [];
  /** py-spy's thread frames (`thread (tid): name`), by frame id. */
  private readonly frameThread: Array<ThreadRef | undefined> = [];
  /** Samples per frame text (the line of a function), for the hot list's lines: [normal, idle] variant. */
  private readonly frameTotal: [number[], number[]] = [[], []];
  private readonly frameSelf: [number[], number[]] = [[], []];

  private readonly fileClasses = new Map<string, FileClass>();

  // Functions (name + file + kind).
  readonly functions: FunctionInfo[] = [];
  private readonly functionIds = new Map<string, number>();
  private readonly functionSelf: number[] = [];
  private readonly functionTotal: number[] = [];
  private readonly functionStamp: number[] = [];
  /** Functions in the order first sampled (the hot list's order among equals). */
  private readonly functionsUsed: number[] = [];

  // Nodes.
  size = 1;
  fn = new Int32Array(1024).fill(NONE);
  parent = new Int32Array(1024).fill(NONE);
  /** END (0, the root, never a child) ends a child list: new arrays need no filling, so room
   * reserved generously costs nothing until used (the pages are zero until touched). */
  firstChild = new Int32Array(1024);
  nextSibling = new Int32Array(1024);
  /** Samples with the node on the stack, and as the leaf. */
  private totals = new Float64Array(1024);
  private selfs = new Float64Array(1024);
  /** Of `totals`, samples that wait. */
  private idles = new Float64Array(1024);
  /** The line every sample at the node was at (most nodes: one call site), or UNSEEN, NO_LINE,
   * MANY_LINES (then its samples per line are in `moreLines`): a sample at the same line as
   * before costs no write. */
  private lineOf = new Int32Array(1024);
  private readonly moreLines = new Map<number, Map<number, number>>();
  /** Children per node, up to FEW_CHILDREN: a node with fewer is searched through its child list
   * (most nodes: a new stack's tail is a chain of new nodes, found and made with no hash probe at
   * all); the children of wider nodes are also in `slots`. A byte: less memory to fault in. */
  private childCount = new Uint8Array(1024);
  /** (parent, function) → node for the children of wide nodes: `[parent, function, node + 1]` per slot (0: empty), keys inline so a probe reads one cache line. */
  private slots = new Int32Array(4096 * 3);
  private slotCount = 4096;
  private hashed = 0;
  /** Set on differential trees only (fromNodes). */
  diffs: NodeDiff[] | undefined;

  /** The stacks as added, as frame ids: the tree is built from them, exports read them. */
  private readonly stackList = new StackList();
  private stamp = 0;
  /** Samples counted (PyFlight's own threads are not). */
  samples = 0;
  /** Of `samples`, those that wait. */
  idleSamples = 0;
  /** The samples of PyFlight's own threads, left out of everything. */
  readonly pyflightThreads: PyflightThreads;

  constructor(private readonly options: ClassifyOptions = {}) {
    this.pyflightThreads = new PyflightThreads(options.pyflightThreadIds);
  }

  /** Adds py-spy collapsed text (`frame;frame;… count` per line); blank or malformed lines are skipped. */
  addCollapsedText(text: string): void {
    const frames = estimateFrames(text);
    this.reserve(frames);
    this.stackList.reserve(frames);
    const from = this.stackList.mark();
    this.frames.scan(text, this.stackList);
    this.addStacksSince(from);
  }

  /** Adds one stack (frame texts root first) seen `count` times. */
  addStack(frames: readonly string[], count: number): void {
    if (!(count > 0) || !frames.length) return;
    const from = this.stackList.mark();
    this.stackList.begin(count);
    for (const frame of frames) this.stackList.frame(this.frames.idOf(frame, 0, frame.length));
    this.addStacksSince(from);
  }

  /** Adds to the tree the stacks listed since `from`, once their new frames are described. */
  private addStacksSince(from: StackMark): void {
    this.describeNewFrames();
    this.stackList.each(from, (data, start, n, count, index) => this.stackList.setFlags(index, this.addFrameIds(data, start, n, count)));
  }

  /** What a frame text is (function, line), for the texts interned since the last call. */
  private describeNewFrames(): void {
    for (let id = this.frameFn.length; id < this.frames.texts.length; id++) {
      const text = this.frames.texts[id];
      const thread = text.startsWith('thread (') ? parseThreadFrame(text) : undefined;
      this.frameThread.push(thread);
      const parsed = parseFrame(text);
      const info = frameInfo(parsed, this.fileClass(parsed.file));
      // A thread frame is never a node: give it a function all the same, so every frame id has one.
      this.frameFn.push(this.internFunction(info));
      this.frameIdleFn.push(NONE);
      this.frameLine.push(parsed.line && !thread ? parsed.line : NO_LINE);
      this.frameFlags.push(thread ? 0 : (isBootstrapFrame(info) ? FrameFlag.Bootstrap : 0) | (isPyflightCode(info) ? FrameFlag.Pyflight : 0)
        | (info.kind === 'idle' ? FrameFlag.Waits : 0)
        | (info.kind !== 'idle' && leafWaits(info as FrameInfo & { kind: Exclude<FrameKind, 'idle'> }, this.options.lineText) ? FrameFlag.LeafWaits : 0));
      for (const side of [0, 1]) {
        this.frameTotal[side].push(0);
        this.frameSelf[side].push(0);
      }
    }
  }

  /** Files are classified once: a profile has many frames per file. */
  private fileClass(file: string | undefined): FileClass {
    let known = this.fileClasses.get(file ?? '');
    if (!known) this.fileClasses.set(file ?? '', known = classifyFile(file, this.options));
    return known;
  }

  private internFunction(info: FrameInfo): number {
    const key = `${info.name}\0${info.file ?? ''}\0${info.kind}`;
    let id = this.functionIds.get(key);
    if (id === undefined) {
      id = this.functions.length;
      this.functionIds.set(key, id);
      const fn: FunctionInfo = { name: info.name, kind: info.kind, searchText: `${info.name}\0${info.file ?? ''}`.toLowerCase() };
      if (info.file !== undefined) fn.file = info.file;
      if (info.module !== undefined) fn.module = info.module;
      this.functions.push(fn);
      this.functionSelf.push(0);
      this.functionTotal.push(0);
      this.functionStamp.push(0);
    }
    return id;
  }

  /** The same function, waiting: what a wait function calls is waiting too (a lock's futex, an unsymbolized libc address). */
  private idleFunctionOf(frame: number): number {
    let id = this.frameIdleFn[frame];
    if (id === NONE) {
      const info = this.functions[this.frameFn[frame]];
      id = this.frameIdleFn[frame] = this.internFunction({ ...info, kind: 'idle' });
    }
    return id;
  }

  /** Adds one stack; returns what it was (StackFlag bits). */
  private addFrameIds(frames: Int32Array, start: number, n: number, count: number): number {
    const { frameFlags } = this;
    const thread = this.frameThread[frames[start]];
    if (thread) {
      start++;
      n--;
    }
    const threadFlag = thread ? StackFlag.ThreadFrame : 0;
    if (n <= 0) return threadFlag | StackFlag.LeftOut;
    let entry = start;
    while (entry < start + n - 1 && frameFlags[frames[entry]] & FrameFlag.Bootstrap) entry++;
    if (this.pyflightThreads.claims(thread, (frameFlags[frames[entry]] & FrameFlag.Pyflight) !== 0, count)) return threadFlag | StackFlag.LeftOut;
    this.samples += count;
    this.totals[0] += count;
    const stamp = ++this.stamp;
    // Frames from `idleFrom` on are the waiting variant of their function: what a wait function
    // calls, or a leaf at a blocking call.
    let idleFrom = n;
    let waits = false;
    for (let d = 0; d < n; d++) {
      if (frameFlags[frames[start + d]] & FrameFlag.Waits) {
        idleFrom = d + 1;
        waits = true;
        break;
      }
    }
    if (!waits && frameFlags[frames[start + n - 1]] & FrameFlag.LeafWaits) {
      idleFrom = n - 1;
      waits = true;
    }
    if (waits) {
      this.idleSamples += count;
      this.idles[0] += count;
    }
    let node = 0;
    const last = n - 1;
    this.reserve(n); // no growth in the loop: the arrays below stay the live ones
    const { totals, idles, lineOf, frameLine, frameFn, functionStamp, functionTotal } = this;
    for (let d = 0; d < n; d++) {
      const frame = frames[start + d];
      const idle = d >= idleFrom && !(frameFlags[frame] & FrameFlag.Waits);
      const fn = idle ? this.idleFunctionOf(frame) : frameFn[frame];
      const line = frameLine[frame];
      const child = this.childOf(node, fn, line);
      totals[child] += count;
      if (waits) idles[child] += count;
      if (lineOf[child] !== line) this.addLine(child, line, count);
      const side = idle ? 1 : 0;
      // In a sample that waits, only the waiting frames count for their function: the hot list is CPU.
      const counts = !waits || idle || (frameFlags[frame] & FrameFlag.Waits) !== 0;
      if (counts) this.frameTotal[side][frame] += count;
      if (functionStamp[fn] !== stamp) {
        if (functionStamp[fn] === 0) this.functionsUsed.push(fn);
        functionStamp[fn] = stamp; // a function counts once per stack (recursion)
        if (counts) functionTotal[fn] += count;
      }
      if (d === last) {
        this.selfs[child] += count;
        this.functionSelf[fn] += count;
        this.frameSelf[side][frame] += count;
      }
      node = child;
    }
    return threadFlag | (waits ? StackFlag.Idle : 0);
  }

  /** A sample of `count` at `line` (or NO_LINE) in a node whose samples so far (its total before
   * this one) were not all at that line. */
  private addLine(node: number, line: number, count: number): void {
    const first = this.lineOf[node];
    let lines = this.moreLines.get(node);
    if (!lines) {
      lines = new Map();
      if (first > 0) lines.set(first, this.totals[node] - count); // not NO_LINE, nor UNSEEN (a node of a tree made from objects)
      this.moreLines.set(node, lines);
      this.lineOf[node] = MANY_LINES;
    }
    if (line !== NO_LINE) lines.set(line, (lines.get(line) ?? 0) + count);
  }

  /** The child of `parent` that is function `fn`, made (first seen at `line`) if new. */
  private childOf(parent: number, fn: number, line: number): number {
    if (this.childCount[parent] < FEW_CHILDREN) {
      for (let c = this.firstChild[parent]; c !== END; c = this.nextSibling[c]) if (this.fn[c] === fn) return c;
      return this.newNode(parent, fn, line);
    }
    const slots = this.slots;
    const mask = this.slotCount - 1;
    let h = hash(parent, fn) & mask;
    for (let at = h * 3; slots[at + 2] !== 0; at = h * 3) {
      if (slots[at] === parent && slots[at + 1] === fn) return slots[at + 2] - 1;
      h = (h + 1) & mask;
    }
    return this.newNode(parent, fn, line);
  }

  /** Room for `more` nodes, so a big profile does not grow (and copy) its arrays while it is built. */
  private reserve(more: number): void {
    if (this.size + more > this.fn.length) this.growNodes(this.size + more);
  }

  private growNodes(atLeast: number): void {
    const capacity = Math.max(atLeast, this.fn.length * 2);
    // Nothing to fill: fn, parent and nextSibling are set when a node is made, END is 0.
    this.fn = grow(this.fn, capacity);
    this.parent = grow(this.parent, capacity);
    this.firstChild = grow(this.firstChild, capacity);
    this.nextSibling = grow(this.nextSibling, capacity);
    this.childCount = grow(this.childCount, capacity);
    this.totals = grow(this.totals, capacity);
    this.selfs = grow(this.selfs, capacity);
    this.idles = grow(this.idles, capacity);
    this.lineOf = grow(this.lineOf, capacity);
  }

  private newNode(parent: number, fn: number, line: number): number {
    const id = this.size++;
    if (id >= this.fn.length) this.growNodes(id + 1);
    this.fn[id] = fn;
    this.parent[id] = parent;
    this.lineOf[id] = line;
    this.nextSibling[id] = this.firstChild[parent];
    this.firstChild[parent] = id;
    const before = this.childCount[parent];
    if (before < FEW_CHILDREN) {
      this.childCount[parent] = before + 1;
      if (before + 1 === FEW_CHILDREN) for (let c = id; c !== END; c = this.nextSibling[c]) this.place(parent, this.fn[c], c);
    } else {
      this.place(parent, fn, id);
    }
    return id;
  }

  /** Puts a child of a wide node into the hash (grown to stay at most half full). */
  private place(parent: number, fn: number, id: number): void {
    if (++this.hashed * 2 > this.slotCount) this.rehash(this.slotCount * 2);
    this.putSlot(parent, fn, id);
  }

  private putSlot(parent: number, fn: number, id: number): void {
    const slots = this.slots;
    const mask = this.slotCount - 1;
    let h = hash(parent, fn) & mask;
    while (slots[h * 3 + 2] !== 0) h = (h + 1) & mask;
    slots[h * 3] = parent;
    slots[h * 3 + 1] = fn;
    slots[h * 3 + 2] = id + 1;
  }

  private rehash(capacity: number): void {
    const old = this.slots;
    this.slots = new Int32Array(capacity * 3);
    this.slotCount = capacity;
    for (let at = 0; at < old.length; at += 3) if (old[at + 2] !== 0) this.putSlot(old[at], old[at + 1], old[at + 2] - 1);
  }

  /** Samples with node `id` on the stack. */
  total(id: number): number {
    return this.totals[id];
  }

  /** Samples with node `id` as the leaf. */
  self(id: number): number {
    return this.selfs[id];
  }

  /** Of `total(id)`, samples that wait. */
  idle(id: number): number {
    return this.idles[id];
  }

  /** What node `id` is (the root is "all"). */
  info(id: number): FunctionInfo {
    return id === 0 ? ROOT_INFO : this.functions[this.fn[id]];
  }

  /** The line with the most samples at this node (ties: the lowest); for a caller, the call site it spent most time under. */
  line(id: number): number | undefined {
    const lines = this.moreLines.get(id);
    if (lines) return topKey(lines);
    const first = this.lineOf[id];
    return first > 0 ? first : undefined;
  }

  /** Samples per line at this node. */
  lines(id: number): Record<number, number> {
    const lines = this.moreLines.get(id);
    if (lines) return Object.fromEntries(lines);
    const first = this.lineOf[id];
    return first > 0 ? { [first]: this.totals[id] } : {};
  }

  /** In the order first seen (the list keeps the newest first). */
  children(id: number): number[] {
    const out: number[] = [];
    for (let c = this.firstChild[id]; c !== END; c = this.nextSibling[c]) out.push(c);
    return out.reverse();
  }

  /** Root first, `id` last. */
  pathTo(id: number): number[] {
    const path: number[] = [];
    for (let n = id; n !== NONE; n = this.parent[n]) path.push(n);
    return path.reverse();
  }

  /** The child of `id` named `name` (the widest, if several: same name, other files), or undefined. */
  childNamed(id: number, name: string): number | undefined {
    let best: number | undefined;
    for (let c = this.firstChild[id]; c !== END; c = this.nextSibling[c]) {
      if (this.info(c).name === name && (best === undefined || this.total(c) > this.total(best))) best = c;
    }
    return best;
  }

  /** Nodes whose function name or file contains `query` (case-insensitive): each function is tested once, then every node in one pass. */
  search(query: string): SearchResult {
    const matches = new Uint8Array(this.size);
    const needle = query.trim().toLowerCase();
    if (!needle) return { matches, matchCount: 0, matchedSamples: 0 };
    const functionMatches = new Uint8Array(this.functions.length);
    this.functions.forEach((f, i) => { functionMatches[i] = f.searchText.includes(needle) ? 1 : 0; });
    // covered[id]: id or one of its ancestors matched.
    const covered = new Uint8Array(this.size);
    const { parent, fn, totals, size } = this;
    let matchCount = 0;
    let matchedSamples = 0;
    for (let id = 1; id < size; id++) {
      const above = covered[parent[id]];
      if (functionMatches[fn[id]]) {
        matches[id] = 1;
        covered[id] = 1;
        matchCount++;
        if (!above) matchedSamples += totals[id];
      } else {
        covered[id] = above;
      }
    }
    return { matches, matchCount, matchedSamples };
  }

  /** The stacks added so far that count (not PyFlight's threads), the same stacks summed (in the
   * order first seen); samples that wait are marked `idle`. */
  stacks(): Array<{ frames: string[]; count: number; idle?: true }> {
    return this.stackList.merged((id) => this.frames.texts[id]);
  }

  /** Every function with its self and total samples (total: counted once per stack) and the lines it was sampled at. */
  functionTotals(): Array<{ info: FunctionInfo; self: number; total: number; selfLines: Map<number, number>; lines: Map<number, number> }> {
    const out = this.functions.map((info, i) => ({ info, self: this.functionSelf[i], total: this.functionTotal[i],
      selfLines: new Map<number, number>(), lines: new Map<number, number>() }));
    for (let frame = 0; frame < this.frameFn.length; frame++) {
      const line = this.frameLine[frame];
      if (line === NO_LINE) continue;
      for (const side of [0, 1]) {
        const fn = side ? this.frameIdleFn[frame] : this.frameFn[frame];
        if (fn === NONE) continue;
        const entry = out[fn];
        const total = this.frameTotal[side][frame];
        const self = this.frameSelf[side][frame];
        if (total) entry.lines.set(line, (entry.lines.get(line) ?? 0) + total);
        if (self) entry.selfLines.set(line, (entry.selfLines.get(line) ?? 0) + self);
      }
    }
    // A function seen only as the caller of waits has no CPU samples: it is not hot.
    return this.functionsUsed.map((fn) => out[fn]).filter((f) => f.total > 0 || f.self > 0);
  }

  /** A tree of objects (children by samples, descending), for JSON output and the diff. */
  toNodes<T extends CallTreeNode>(make: (id: number, children: T[]) => T): T {
    const build = (id: number): T => {
      const children = this.children(id).map(build);
      children.sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
      return make(id, children);
    };
    return build(0);
  }

  /** A tree built from objects (a differential profile, see diff.ts): node ids in depth-first order. */
  static fromNodes(root: CallTreeNode & Partial<NodeDiff>): CallTree {
    const tree = new CallTree();
    const diffs: NodeDiff[] = [];
    const visit = (node: CallTreeNode & Partial<NodeDiff>, id: number) => {
      tree.selfs[id] = node.self;
      tree.totals[id] = node.total;
      tree.idles[id] = node.idle ?? 0;
      if (node.delta !== undefined) diffs[id] = { beforeSelf: node.beforeSelf!, beforeTotal: node.beforeTotal!, delta: node.delta, selfDelta: node.selfDelta! };
      const ids = node.children.map((child) => tree.newNode(id, tree.internFunction(child), child.line ?? UNSEEN));
      node.children.forEach((child, i) => visit(child as CallTreeNode & Partial<NodeDiff>, ids[i]));
    };
    visit(root, 0);
    tree.samples = root.total;
    tree.diffs = diffs;
    return tree;
  }
}

function hash(parent: number, fn: number): number {
  let h = Math.imul(parent ^ Math.imul(fn + 1, 0x27d4eb2d), 0x9e3779b1);
  h ^= h >>> 15;
  return h >>> 0;
}

export function topKey(counts: Map<number, number>): number | undefined {
  let best: number | undefined;
  let bestCount = -1;
  for (const [key, count] of counts) if (count > bestCount || (count === bestCount && key < best!)) [best, bestCount] = [key, count];
  return best;
}
