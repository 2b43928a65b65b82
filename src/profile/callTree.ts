/**
 * The CPU profile's call tree in flat typed arrays, built incrementally from collapsed stacks
 * (py-spy's `--format raw` text, or its 1-second chunks while recording). A profile of 1 M
 * samples over 100 k distinct stacks has about 1.4 M nodes: as objects (one per node, a record of
 * lines, a children array) the build was bound by the garbage collector (18 s); as arrays it is
 * one pass over the text. Frame texts are interned once; a node is a (parent, function) pair found
 * through its parent's child list, or an open-addressing hash for parents with many children. Most
 * of a new stack is new nodes (a chain under the first unknown frame): they are made without a
 * probe. Pure, no I/O, no vscode.
 *
 * Node 0 is the root ("all"). A node's id is greater than its parent's (nodes are only ever
 * appended), so one forward pass over the ids visits parents before children.
 */
import { classifyFrame, parseFrame, type ClassifyOptions, type FrameInfo, type FrameKind } from './frames';
import { estimateFrames, FrameTexts } from './frameTexts';

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
/** `firstLine` of a node seen at several lines (they are in `moreLines`). */
const MANY_LINES = -2;
const STRIDE = 4;
const TOTAL = 0;
const SELF = 1;
const LINE = 2;
const LINE_SAMPLES = 3;
/** `LINE` of a node with no line yet: 0, so new stats need no filling (a frame at line 0 has no line). */
const NO_LINE = 0;

const ROOT_INFO: FunctionInfo = { name: 'all', kind: 'own', searchText: '' };

function grow<T extends Int32Array | Float64Array>(array: T, size: number): T {
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
  /** Samples per frame text (the line of a function), for the hot list's lines: [normal, idle] variant. */
  private readonly frameTotal: [number[], number[]] = [[], []];
  private readonly frameSelf: [number[], number[]] = [[], []];

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
  /** Per node, side by side so adding a sample touches one cache line: total samples, self samples,
   * the first line seen at the node and its samples (a node seen at more lines keeps them all in
   * `moreLines`). */
  private stats = new Float64Array(1024 * STRIDE);
  private readonly moreLines = new Map<number, Map<number, number>>();
  /** Children per node: a node with fewer than FEW_CHILDREN is searched through its child list (most
   * nodes: a new stack's tail is a chain of new nodes, found and made with no hash probe at all);
   * the children of wider nodes are also in `slots`. */
  private childCount = new Int32Array(1024);
  /** (parent, function) → node for the children of wide nodes: `[parent, function, node + 1]` per slot (0: empty), keys inline so a probe reads one cache line. */
  private slots = new Int32Array(4096 * 3);
  private slotCount = 4096;
  private hashed = 0;
  /** Set on differential trees only (fromNodes). */
  diffs: NodeDiff[] | undefined;

  // The stacks as added, as frame ids (`[length, ...frames]` per stack), for exports.
  private stackData = new Int32Array(4096);
  private stackDataLength = 0;
  private readonly stackCounts: number[] = [];
  private scratch = new Int32Array(256);
  private stamp = 0;
  samples = 0;

  constructor(private readonly options: ClassifyOptions = {}) {}

  /** Adds py-spy collapsed text (`frame;frame;… count` per line); blank or malformed lines are skipped. */
  addCollapsedText(text: string): void {
    this.reserve(estimateFrames(text));
    this.frames.scan(text, (ids, n, count) => {
      this.describeNewFrames();
      this.addFrameIds(ids, n, count);
    });
  }

  /** Adds one stack (frame texts root first) seen `count` times. */
  addStack(frames: readonly string[], count: number): void {
    if (!(count > 0) || !frames.length) return;
    if (frames.length > this.scratch.length) this.scratch = new Int32Array(frames.length * 2);
    for (let i = 0; i < frames.length; i++) this.scratch[i] = this.frames.idOf(frames[i], 0, frames[i].length);
    this.describeNewFrames();
    this.addFrameIds(this.scratch, frames.length, count);
  }

  /** What a frame text is (function, line), for the texts interned since the last call. */
  private describeNewFrames(): void {
    for (let id = this.frameFn.length; id < this.frames.texts.length; id++) {
      const parsed = parseFrame(this.frames.texts[id]);
      this.frameFn.push(this.internFunction(classifyFrame(parsed, this.options)));
      this.frameIdleFn.push(NONE);
      this.frameLine.push(parsed.line ? parsed.line : NONE); // line 0: no line (NO_LINE)
      for (const side of [0, 1]) {
        this.frameTotal[side].push(0);
        this.frameSelf[side].push(0);
      }
    }
  }

  private internFunction(info: FrameInfo): number {
    const key = `${info.name}\0${info.file ?? ''}\0${info.kind}`;
    let id = this.functionIds.get(key);
    if (id === undefined) {
      id = this.functions.length;
      this.functionIds.set(key, id);
      this.functions.push({ name: info.name, ...(info.file !== undefined ? { file: info.file } : {}),
        ...(info.module !== undefined ? { module: info.module } : {}), kind: info.kind,
        searchText: `${info.name}\0${info.file ?? ''}`.toLowerCase() });
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

  private addFrameIds(frames: Int32Array, n: number, count: number): void {
    this.keepStack(frames, n, count);
    this.samples += count;
    this.stats[TOTAL] += count;
    const stamp = ++this.stamp;
    let waitsAt = NONE;
    if (this.options.idle) {
      for (let d = 0; d < n; d++) {
        if (this.functions[this.frameFn[frames[d]]].kind === 'idle') {
          waitsAt = d;
          break;
        }
      }
    }
    let node = 0;
    const last = n - 1;
    this.reserve(n); // no growth in the loop: `stats` below stays the live array
    const { stats, frameLine, frameFn, functionStamp, functionTotal } = this;
    for (let d = 0; d < n; d++) {
      const frame = frames[d];
      const idle = waitsAt !== NONE && d > waitsAt && this.functions[frameFn[frame]].kind !== 'idle';
      const fn = idle ? this.idleFunctionOf(frame) : frameFn[frame];
      const child = this.childOf(node, fn);
      const at = child * STRIDE;
      stats[at + TOTAL] += count;
      const line = frameLine[frame];
      if (line !== NONE) {
        if (stats[at + LINE] === line) stats[at + LINE_SAMPLES] += count;
        else this.addLine(child, line, count);
      }
      const side = idle ? 1 : 0;
      this.frameTotal[side][frame] += count;
      if (functionStamp[fn] !== stamp) {
        if (functionStamp[fn] === 0) this.functionsUsed.push(fn);
        functionStamp[fn] = stamp; // a function counts once per stack (recursion)
        functionTotal[fn] += count;
      }
      if (d === last) {
        stats[at + SELF] += count;
        this.functionSelf[fn] += count;
        this.frameSelf[side][frame] += count;
      }
      node = child;
    }
  }

  private keepStack(frames: Int32Array, n: number, count: number): void {
    const need = this.stackDataLength + n + 1;
    if (need > this.stackData.length) this.stackData = grow(this.stackData, Math.max(need, this.stackData.length * 2));
    this.stackData[this.stackDataLength] = n;
    this.stackData.set(frames.subarray(0, n), this.stackDataLength + 1);
    this.stackDataLength = need;
    this.stackCounts.push(count);
  }

  private addLine(node: number, line: number, count: number): void {
    const at = node * STRIDE;
    const first = this.stats[at + LINE];
    if (first === line) {
      this.stats[at + LINE_SAMPLES] += count;
    } else if (first === NO_LINE) {
      this.stats[at + LINE] = line;
      this.stats[at + LINE_SAMPLES] = count;
    } else {
      let lines = this.moreLines.get(node);
      if (!lines) {
        this.moreLines.set(node, lines = new Map([[first, this.stats[at + LINE_SAMPLES]]]));
        this.stats[at + LINE] = MANY_LINES;
      }
      lines.set(line, (lines.get(line) ?? 0) + count);
    }
  }

  /** The child of `parent` that is function `fn`, made if new. */
  private childOf(parent: number, fn: number): number {
    if (this.childCount[parent] < FEW_CHILDREN) {
      for (let c = this.firstChild[parent]; c !== END; c = this.nextSibling[c]) if (this.fn[c] === fn) return c;
      return this.newNode(parent, fn);
    }
    const slots = this.slots;
    const mask = this.slotCount - 1;
    let h = hash(parent, fn) & mask;
    for (let at = h * 3; slots[at + 2] !== 0; at = h * 3) {
      if (slots[at] === parent && slots[at + 1] === fn) return slots[at + 2] - 1;
      h = (h + 1) & mask;
    }
    return this.newNode(parent, fn);
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
    this.stats = grow(this.stats, capacity * STRIDE);
  }

  private newNode(parent: number, fn: number): number {
    const id = this.size++;
    if (id >= this.fn.length) this.growNodes(id + 1);
    this.fn[id] = fn;
    this.parent[id] = parent;
    this.nextSibling[id] = this.firstChild[parent];
    this.firstChild[parent] = id;
    const count = ++this.childCount[parent];
    if (count === FEW_CHILDREN) {
      for (let c = id; c !== END; c = this.nextSibling[c]) this.place(parent, this.fn[c], c);
    } else if (count > FEW_CHILDREN) {
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
    return this.stats[id * STRIDE + TOTAL];
  }

  /** Samples with node `id` as the leaf. */
  self(id: number): number {
    return this.stats[id * STRIDE + SELF];
  }

  /** What node `id` is (the root is "all"). */
  info(id: number): FunctionInfo {
    return id === 0 ? ROOT_INFO : this.functions[this.fn[id]];
  }

  /** The line with the most samples at this node (ties: the lowest); for a caller, the call site it spent most time under. */
  line(id: number): number | undefined {
    const lines = this.moreLines.get(id);
    if (lines) return topKey(lines);
    const first = this.stats[id * STRIDE + LINE];
    return first === NO_LINE ? undefined : first;
  }

  /** Samples per line at this node. */
  lines(id: number): Record<number, number> {
    const lines = this.moreLines.get(id);
    if (lines) return Object.fromEntries(lines);
    const first = this.stats[id * STRIDE + LINE];
    return first === NO_LINE ? {} : { [first]: this.stats[id * STRIDE + LINE_SAMPLES] };
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
    const { parent, fn, stats, size } = this;
    let matchCount = 0;
    let matchedSamples = 0;
    for (let id = 1; id < size; id++) {
      const above = covered[parent[id]];
      if (functionMatches[fn[id]]) {
        matches[id] = 1;
        covered[id] = 1;
        matchCount++;
        if (!above) matchedSamples += stats[id * STRIDE + TOTAL];
      } else {
        covered[id] = above;
      }
    }
    return { matches, matchCount, matchedSamples };
  }

  /** The stacks added so far, the same stacks summed (in the order first seen). */
  stacks(): Array<{ frames: string[]; count: number }> {
    const merged = new Map<string, { frames: string[]; count: number }>();
    for (let at = 0, i = 0; at < this.stackDataLength; i++) {
      const n = this.stackData[at];
      const ids = this.stackData.subarray(at + 1, at + 1 + n);
      at += n + 1;
      const key = ids.join(',');
      const known = merged.get(key);
      if (known) known.count += this.stackCounts[i];
      else merged.set(key, { frames: Array.from(ids, (f) => this.frames.texts[f]), count: this.stackCounts[i] });
    }
    return [...merged.values()];
  }

  /** Every function with its self and total samples (total: counted once per stack) and the lines it was sampled at. */
  functionTotals(): Array<{ info: FunctionInfo; self: number; total: number; selfLines: Map<number, number>; lines: Map<number, number> }> {
    const out = this.functions.map((info, i) => ({ info, self: this.functionSelf[i], total: this.functionTotal[i],
      selfLines: new Map<number, number>(), lines: new Map<number, number>() }));
    for (let frame = 0; frame < this.frameFn.length; frame++) {
      const line = this.frameLine[frame];
      if (line === NONE) continue;
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
    return this.functionsUsed.map((fn) => out[fn]);
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
      tree.stats[id * STRIDE + SELF] = node.self;
      tree.stats[id * STRIDE + TOTAL] = node.total;
      if (node.line !== undefined) tree.addLine(id, node.line, 1);
      if (node.delta !== undefined) diffs[id] = { beforeSelf: node.beforeSelf!, beforeTotal: node.beforeTotal!, delta: node.delta, selfDelta: node.selfDelta! };
      const ids = node.children.map((child) => tree.newNode(id, tree.internFunction(child)));
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
