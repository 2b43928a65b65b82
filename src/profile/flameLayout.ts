import type { FrameKind, VisibleFrame } from '../../webview/shared/flameProtocol';
import type { DiffNode } from './diff';
import type { CallTreeNode } from './model';

/** A node of an aggregated call tree (samples, not time): what the flame graph is drawn from. */
export interface FlameNode {
  id: number;
  name: string;
  file?: string;
  line?: number;
  kind: FrameKind;
  self: number;
  total: number;
  children: FlameNode[];
  parent?: FlameNode;
  /** Differential profiles only (see diff.ts). */
  diff?: { beforeSelf: number; beforeTotal: number; delta: number; selfDelta: number };
}

export function where(node: Pick<FlameNode, 'file' | 'line'>): string | undefined {
  return node.file ? `${node.file}${node.line ? `:${node.line}` : ''}` : undefined;
}

/** The engine's call tree with ids and parent links, for zoom and breadcrumbs. */
export function toFlameTree(tree: CallTreeNode): FlameNode {
  let nextId = 0;
  const convert = (node: CallTreeNode, parent?: FlameNode): FlameNode => {
    const flame: FlameNode = { id: nextId++, name: node.name, file: node.file, line: node.line, kind: node.kind,
      self: node.self, total: node.total, children: [], parent };
    if ('delta' in node) {
      const d = node as DiffNode;
      flame.diff = { beforeSelf: d.beforeSelf, beforeTotal: d.beforeTotal, delta: d.delta, selfDelta: d.selfDelta };
    }
    flame.children = node.children.map((child) => convert(child, flame));
    return flame;
  };
  return convert(tree);
}

/** Every node by id. */
export function indexTree(root: FlameNode): Map<number, FlameNode> {
  const byId = new Map<number, FlameNode>();
  const stack = [root];
  while (stack.length) {
    const node = stack.pop()!;
    byId.set(node.id, node);
    for (const child of node.children) stack.push(child);
  }
  return byId;
}

/**
 * The frames to draw with `zoom` as the full width: only those at least `minFraction` of it wide
 * (a pixel), at most `maxFrames` (widest first by construction: a child is never wider than its
 * parent, so pruning by width keeps whole subtrees' tops). Depth 0 is `zoom` itself.
 */
export function layoutFrames(zoom: FlameNode, minFraction: number, matches: ReadonlySet<number>, maxFrames = 6000): VisibleFrame[] {
  const out: VisibleFrame[] = [];
  if (zoom.total <= 0) return out;
  const queue: { node: FlameNode; depth: number; x: number }[] = [{ node: zoom, depth: 0, x: 0 }];
  for (let head = 0; head < queue.length && out.length < maxFrames; head++) {
    const { node, depth, x } = queue[head];
    const w = node.total / zoom.total;
    out.push({ id: node.id, depth, x, w, name: node.name, kind: node.kind, self: node.self, total: node.total,
      match: matches.has(node.id), where: where(node), ...(node.diff ? { diff: node.diff } : {}) });
    let childX = x;
    for (const child of [...node.children].sort((a, b) => a.name.localeCompare(b.name))) {
      const cw = child.total / zoom.total;
      if (cw >= minFraction) queue.push({ node: child, depth: depth + 1, x: childX });
      childX += cw;
    }
  }
  return out;
}

/** Nodes whose function name or file contains `query` (case-insensitive), and the samples they
 * cover (a match inside another match is not counted twice). */
export function searchTree(root: FlameNode, query: string): { matches: Set<number>; matchedSamples: number } {
  const matches = new Set<number>();
  let matchedSamples = 0;
  const needle = query.trim().toLowerCase();
  if (!needle) return { matches, matchedSamples };
  // A profile has millions of nodes but few distinct functions: decide each function once.
  const memo = new Map<string, Map<string | undefined, boolean>>();
  const matchesText = (node: FlameNode): boolean => {
    let byFile = memo.get(node.name);
    if (!byFile) memo.set(node.name, byFile = new Map());
    let hit = byFile.get(node.file);
    if (hit === undefined) {
      hit = node.name.toLowerCase().includes(needle) || (node.file ?? '').toLowerCase().includes(needle);
      byFile.set(node.file, hit);
    }
    return hit;
  };
  const walk = (node: FlameNode, insideMatch: boolean) => {
    const hit = matchesText(node);
    if (hit) {
      matches.add(node.id);
      if (!insideMatch) matchedSamples += node.total;
    }
    for (const child of node.children) walk(child, insideMatch || hit);
  };
  for (const child of root.children) walk(child, false);
  return { matches, matchedSamples };
}

/** Root first, `node` last. */
export function pathTo(node: FlameNode): FlameNode[] {
  const path: FlameNode[] = [];
  for (let n: FlameNode | undefined = node; n; n = n.parent) path.unshift(n);
  return path;
}
