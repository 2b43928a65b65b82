import type { VisibleFrame } from '../../webview/shared/flameProtocol';
import type { CallTree } from './callTree';

export function where(node: { file?: string; line?: number }): string | undefined {
  return node.file ? `${node.file}${node.line ? `:${node.line}` : ''}` : undefined;
}

const byName = new Intl.Collator().compare;

/**
 * The frames to draw with node `zoom` as the full width: only those at least `minFraction` of it
 * wide (a pixel), at most `maxFrames` (widest first by construction: a child is never wider than
 * its parent, so pruning by width keeps whole subtrees' tops). Depth 0 is `zoom` itself. Reads the
 * tree's arrays: the cost is the frames drawn (and their siblings), not the tree's size.
 */
export function layoutFrames(tree: CallTree, zoom: number, minFraction: number, matches?: Uint8Array, maxFrames = 6000): VisibleFrame[] {
  const out: VisibleFrame[] = [];
  const zoomTotal = tree.total(zoom);
  if (!(zoomTotal > 0)) return out;
  const queue: { id: number; depth: number; x: number }[] = [{ id: zoom, depth: 0, x: 0 }];
  for (let head = 0; head < queue.length && out.length < maxFrames; head++) {
    const { id, depth, x } = queue[head];
    const info = tree.info(id);
    const diff = tree.diffs?.[id];
    out.push({ id, depth, x, w: tree.total(id) / zoomTotal, name: info.name, kind: info.kind, self: tree.self(id), total: tree.total(id),
      match: Boolean(matches?.[id]), where: where({ file: info.file, line: tree.line(id) }), ...(diff ? { diff } : {}) });
    let childX = x;
    const children = tree.children(id).sort((a, b) => byName(tree.info(a).name, tree.info(b).name));
    for (const child of children) {
      const cw = tree.total(child) / zoomTotal;
      if (cw >= minFraction) queue.push({ id: child, depth: depth + 1, x: childX });
      childX += cw;
    }
  }
  return out;
}
