/**
 * A differential CPU profile: two profiles (before / after) as one call tree drawn with the
 * after-profile's widths, each frame carrying how its share of all samples changed. Shares are
 * normalised to each profile's own total, so a 10 s and a 30 s profile compare fairly. Frames that
 * disappeared have no width (nothing to draw) but stay in the hot table with their drop. Pure.
 */
import { CallTree } from './callTree';
import type { CallTreeNode, CpuProfile, HotFunction } from './model';

export interface DiffNode extends CallTreeNode {
  /** The same frame (same path of function + file from the root) in the before-profile. */
  beforeSelf: number;
  beforeTotal: number;
  /** after share − before share of the frame's total samples (fractions of each profile's total; +0.05 = 5 points more). */
  delta: number;
  /** The same for self samples. */
  selfDelta: number;
  children: DiffNode[];
}

export interface DiffHotFunction extends HotFunction {
  beforeSelf: number;
  beforeSelfPercent: number;
  beforeTotalPercent: number;
  /** selfPercent − beforeSelfPercent, in percentage points. */
  delta: number;
  /** totalPercent − beforeTotalPercent, in percentage points. */
  totalDelta: number;
}

export interface DiffProfile extends CpuProfile {
  tree: DiffNode;
  /** Every function of either profile, by the size of its change in self share (largest first). */
  hot: DiffHotFunction[];
  beforeSamples: number;
}

const keyOf = (n: { name: string; file?: string }) => `${n.name}\0${n.file ?? ''}`;

function share(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

/** Before and after, merged by path; widths and children order from `after` (then what only `before` had). */
export function diffProfiles(before: CpuProfile, after: CpuProfile): DiffProfile {
  const B = before.samples;
  const A = after.samples;
  const merge = (a: CallTreeNode | undefined, b: CallTreeNode | undefined): DiffNode => {
    const base = a ?? b!;
    const node: DiffNode = {
      name: base.name, file: base.file, line: (a ?? b)!.line, module: base.module, kind: base.kind,
      self: a?.self ?? 0, total: a?.total ?? 0, ...(a?.idle ? { idle: a.idle } : {}), lines: a?.lines ?? {},
      beforeSelf: b?.self ?? 0, beforeTotal: b?.total ?? 0,
      delta: share(a?.total ?? 0, A) - share(b?.total ?? 0, B),
      selfDelta: share(a?.self ?? 0, A) - share(b?.self ?? 0, B),
      children: [],
    };
    const beforeChildren = new Map((b?.children ?? []).map((c) => [keyOf(c), c]));
    for (const child of a?.children ?? []) {
      const key = keyOf(child);
      node.children.push(merge(child, beforeChildren.get(key)));
      beforeChildren.delete(key);
    }
    for (const gone of beforeChildren.values()) node.children.push(merge(undefined, gone));
    return node;
  };
  const tree = merge(after.tree, before.tree);
  const points = (n: number) => Math.round(n * 100) / 100;
  const beforeHot = new Map(before.hot.map((h) => [keyOf({ name: h.function, file: h.file }), h]));
  const hot: DiffHotFunction[] = after.hot.map((h) => {
    const key = keyOf({ name: h.function, file: h.file });
    const b = beforeHot.get(key);
    beforeHot.delete(key);
    return { ...h, beforeSelf: b?.self ?? 0, beforeSelfPercent: b?.selfPercent ?? 0, beforeTotalPercent: b?.totalPercent ?? 0,
      delta: points(h.selfPercent - (b?.selfPercent ?? 0)), totalDelta: points(h.totalPercent - (b?.totalPercent ?? 0)) };
  });
  for (const b of beforeHot.values()) {
    hot.push({ ...b, self: 0, selfPercent: 0, total: 0, totalPercent: 0, beforeSelf: b.self, beforeSelfPercent: b.selfPercent,
      beforeTotalPercent: b.totalPercent, delta: points(-b.selfPercent), totalDelta: points(-b.totalPercent) });
  }
  // Waiting is not CPU: idle functions have no row (their frames are still drawn, grey).
  hot.splice(0, hot.length, ...hot.filter((h) => h.kind !== 'idle'));
  hot.sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta) || Math.abs(y.totalDelta) - Math.abs(x.totalDelta)
    || x.function.localeCompare(y.function));
  return { samples: A, idleSamples: after.idleSamples, pyflightThreads: after.pyflightThreads, beforeSamples: B, tree,
    calls: CallTree.fromNodes(tree), hot, get stacks() { return after.stacks; } };
}

export function isDiffProfile(profile: CpuProfile): profile is DiffProfile {
  return 'beforeSamples' in profile;
}
