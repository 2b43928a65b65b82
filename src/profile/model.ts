/**
 * The CPU profile model: py-spy's collapsed stacks (`--format raw`: `frame;frame;… count`, root
 * first) → an aggregated call tree and a list of hot functions. Pure functions, no I/O, no vscode.
 *
 * A frame's text is `name (file:line)` for Python frames, `name (library.so)` or
 * `0x7f… (library.so)` for native ones (`--native`). The line is where that frame was when sampled:
 * the executing line for the leaf, the call site for its callers.
 */
import { CallTree, topKey, type CallTreeNode } from './callTree';
import type { ClassifyOptions, FrameKind } from './frames';
import { pyflightThreadsText, type PyflightThreads } from './threads';

export type { CallTreeNode } from './callTree';
export { classifyFrame, parseFrame, type ClassifyOptions, type FrameInfo, type FrameKind, type ParsedFrame } from './frames';

/** One distinct stack and how many samples had it. Frames root first, as py-spy writes them. */
export interface CollapsedStack {
  frames: string[];
  count: number;
  /** The sample waits (sleep, I/O, a lock: waits.ts): not CPU. */
  idle?: true;
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
  /** Stack samples, summed over threads (a sample of two busy threads counts twice); PyFlight's own
   * threads are never counted (`pyflightThreads`). */
  samples: number;
  /** Of `samples`, those that wait (sleep, I/O, a lock, a server's idle loop): idle in the graph,
   * never in the hot list or the per-line CPU (waits.ts), whatever py-spy's idle flag said. */
  idleSamples: number;
  /** The samples of PyFlight's own threads (the agent's, the door's) left out, and which threads. */
  pyflightThreads: PyflightThreads;
  /** The call tree as arrays: what the flame graph, zoom and search read (callTree.ts). */
  calls: CallTree;
  /** The same tree as objects (made on first use: a big profile has millions of nodes). Root node
   * (`name: "all"`), children sorted by total, descending. */
  readonly tree: CallTreeNode;
  /** Every function, by self samples, descending; a function's samples that wait are its `idle`-kind
   * twin's (total: CPU samples only). */
  hot: HotFunction[];
  /** The merged stacks the model was built from (for exports; made on first use). */
  readonly stacks: CollapsedStack[];
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
    samples, idleSamples: calls.idleSamples, pyflightThreads: calls.pyflightThreads, calls, hot,
    get tree() {
      return tree ??= calls.toNodes<CallTreeNode>((id, children) => {
        const info = calls.info(id);
        const line = calls.line(id);
        const idle = calls.idle(id);
        return { name: info.name, ...(info.file !== undefined ? { file: info.file } : {}), ...(line !== undefined ? { line } : {}),
          ...(info.module !== undefined ? { module: info.module } : {}), kind: info.kind, self: calls.self(id), total: calls.total(id),
          ...(idle ? { idle } : {}), lines: calls.lines(id), children };
      });
    },
    get stacks() {
      return stacks ??= calls.stacks();
    },
  };
}

/** CPU samples of a node: its total less the samples that wait. */
export function cpuSamples(node: Pick<CallTreeNode, 'total' | 'idle'>): number {
  return node.total - (node.idle ?? 0);
}

/** The path from the root that always takes the child with the most CPU samples (waiting ones do
 * not count: a loaded server's idle loop is not its hottest path), until a node's own samples
 * outweigh every child's. */
export function hottestPath(profile: CpuProfile): CallTreeNode[] {
  const path: CallTreeNode[] = [];
  let node = profile.tree;
  for (;;) {
    let next: CallTreeNode | undefined;
    for (const child of node.children) if (child.kind !== 'idle' && cpuSamples(child) > (next ? cpuSamples(next) : 0)) next = child;
    if (!next || (node !== profile.tree && node.self > cpuSamples(next))) break;
    path.push(next);
    node = next;
  }
  return path;
}

/** The functions worth showing first: own code and libraries (not stdlib, native or idle). */
export function hotOwnAndLibrary(profile: CpuProfile): HotFunction[] {
  return profile.hot.filter((f) => f.kind === 'own' || f.kind === 'library');
}

/** What a profile's counts leave out or set apart, as one sentence for the panel and the CLI:
 * PyFlight's own threads, samples that wait. */
export function profileNote(profile: Pick<CpuProfile, 'samples' | 'idleSamples' | 'pyflightThreads'>): string | undefined {
  const parts = [pyflightThreadsText(profile.pyflightThreads)];
  if (profile.idleSamples) {
    parts.push(`${profile.idleSamples.toLocaleString('en-US')} of ${profile.samples.toLocaleString('en-US')} samples wait (sleep, I/O, locks): idle, not in the hot functions`);
  }
  const text = parts.filter(Boolean).join('; ');
  return text ? text.charAt(0).toUpperCase() + text.slice(1) + '.' : undefined;
}
