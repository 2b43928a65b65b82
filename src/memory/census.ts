/**
 * The census diff as words and tables (pure, no vscode): shared by the CLI, the memory panel and the
 * memory diagnosis. A census diff ranks rows by what the user can fix (`growth`): a class written
 * in Python by its own growth plus what its instances own alone, a built-in type by the growth no
 * owner explains. Type names come from the target: callers render them as text.
 */
import { pauseText } from './holders';
import type { CensusStats, LruCache, MemDiffResult, MemDiffRow, NamedContainer } from '../protocol/helper';
import { formatBytes, formatCount } from './memModel';

/** `first census: 40 % of 2.7 M objects` from a memDiff/memCensus progress event, or undefined. */
export function censusProgressText(stage: string, detail?: string | null): string | undefined {
  if (stage !== 'census' || !detail) return undefined;
  const [label, percent, objects] = detail.split(' ');
  const which = label === 'first' ? 'first census' : label === 'second' ? 'second census' : label === 'middle' ? 'middle census' : 'census';
  const n = Number(objects);
  return `${which}: ${percent} %${n ? ` of ${millions(n)} tracked objects` : ''}`;
}

export function millions(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : formatCount(n);
}

/** The row's ranking value: `growth` where the census gave one, else the size delta (pympler diffs). */
export function growthOf(row: MemDiffRow): number {
  return row.growth ?? row.size;
}

/** Whether the row is a class written in Python with what it owns (an owner row). */
export function isOwner(row: MemDiffRow): boolean {
  return row.owned !== undefined;
}

/** `a list, 64 float and a str` — what each instance owns alone, biggest counts first; undefined when nothing. */
export function ownsEachText(row: MemDiffRow): string | undefined {
  const each = Object.entries(row.ownsEach ?? {}).filter(([, n]) => n >= 0.5).sort((a, b) => b[1] - a[1]);
  if (!each.length) return undefined;
  const parts = each.slice(0, 4).map(([type, n]) => (Math.round(n) === 1 ? `${/^[aeiou]/i.test(type) ? 'an' : 'a'} ${type}` : `${formatCount(Math.round(n))} ${type}`));
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

/** `held by Session (+1.2 MB)` for a built-in type whose growth owners explain. */
export function explainedText(row: MemDiffRow): string | undefined {
  if (!row.explainedBy?.length) return undefined;
  return row.explainedBy.map((e) => `${e.owner} (${formatBytes(e.size, true)})`).join(', ');
}

/** The named containers that grew and hold objects of this type (their newest values are of it). */
export function containersHolding(result: MemDiffResult, type: string): NamedContainer[] {
  return (result.containers ?? []).filter((c) => c.holds === type && (c.grown ?? 0) > 0);
}

/** Rows the user owns first (default), or the raw types by size change; never all-zero rows. */
export function rankedRows(result: MemDiffResult, raw = false): MemDiffRow[] {
  const rows = result.rows.filter((r) => r.count !== 0 || r.size !== 0 || (r.owned ?? 0) !== 0);
  return raw ? [...rows].sort((a, b) => b.size - a.size || b.count - a.count || a.type.localeCompare(b.type))
    : [...rows].sort((a, b) => growthOf(b) - growthOf(a) || b.size - a.size || a.type.localeCompare(b.type));
}

export function cacheText(c: LruCache): string {
  const bound = c.maxsize === null ? 'unbounded lru_cache' : `lru_cache (maxsize ${formatCount(c.maxsize)})`;
  return `the ${bound} of ${c.function} holds ${formatCount(c.currsize)} entries${c.grown ? ` (${formatCount(c.grown, true)} in the interval)` : ''}`
    + `${c.file ? `, ${c.file}:${c.line}` : ''}`;
}

export function containerText(c: NamedContainer): string {
  return `${c.path} (${c.type}, ${formatCount(c.len)} entries, ${formatCount(c.grown ?? 0, true)}${c.holds ? `, of ${c.holds}` : ''})`;
}

export function statsText(stats: CensusStats[] | undefined): string | undefined {
  if (!stats?.length) return undefined;
  const s = stats[stats.length - 1];
  const secs = stats.map((x) => (x.elapsedMs / 1000).toFixed(1)).join(' s and ');
  return `Census: ${millions(s.tracked)} tracked objects${s.sample > 1 ? ` (every ${s.sample}th counted)` : ''}, ${secs} s in the process; `
    + `longest pause ${longestPause(stats)} `
    + `(gc.get_objects ${Math.max(...stats.map((x) => x.listMs)).toFixed(0)} ms), its list ${formatBytes(s.listBytes)}.${ownersSampledText(s.ownerTiers)}`;
}

/** Classes with many instances have what their instances own walked for a sample of them (census.py, ownersFull). */
function ownersSampledText(tiers: Record<string, number> | undefined): string {
  const sampled = Object.entries(tiers ?? {}).filter(([, k]) => k > 0);
  if (!sampled.length) return '';
  return ` What instances own alone was walked for 1 in ${sampled.map(([name, k]) => `${2 ** k} ${name}`).slice(0, 3).join(', 1 in ')}`
    + `${sampled.length > 3 ? ` and ${sampled.length - 3} more classes` : ''} (the same instances in each census) and scaled up.`;
}

/** The longest pause of the censuses (gc.get_objects or a slice), with its CPU share when the host held it up. */
function longestPause(stats: CensusStats[]): string {
  const pauses = stats.flatMap((x) => [{ wall: x.listMs, cpu: x.listCpuMs }, { wall: x.longestSliceMs, cpu: x.longestSliceCpuMs }]);
  const top = pauses.reduce((a, b) => (b.wall > a.wall ? b : a));
  return pauseText(top.wall, top.cpu);
}

/** `pyflight mem diff`'s text: the ranked table, then the containers and caches that grew, then how the census went. */
export function diffReport(pid: number, result: MemDiffResult): string[] {
  const raw = result.order === 'size' || result.order === 'descending' || result.order === 'ascending';
  const rows = raw ? result.rows.filter((r) => r.count !== 0 || r.size !== 0) : rankedRows(result);
  const lines = [`Process ${pid}: what changed in ${result.intervalSeconds} s, ${raw ? 'biggest size change first' : 'what your code owns first (a class with what its instances hold alone; a built-in type by the growth no class explains)'}.`];
  const table = [['Δ objects', 'Δ size', raw ? '' : 'Δ owned', 'type']];
  for (const r of rows) {
    const half = r.firstHalf && `${formatBytes(r.firstHalf.growth ?? r.firstHalf.size, true)} of it in the first half`;
    const notes = [ownsEachText(r) && `each holds ${ownsEachText(r)}`, explainedText(r) && `held in ${explainedText(r)}`, half].filter(Boolean).join('; ');
    table.push([formatCount(r.count, true), formatBytes(r.size, true), raw ? '' : (r.owned !== undefined ? formatBytes(r.size + r.owned, true) : ''),
      `${r.type}${notes ? `  (${notes})` : ''}`]);
  }
  const widths = [0, 1, 2].map((i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table) lines.push(`  ${row[0].padStart(widths[0])}  ${row[1].padStart(widths[1])}  ${raw ? '' : `${row[2].padStart(widths[2])}  `}${row[3]}`);
  const grown = result.containers ?? [];
  if (grown.length) lines.push('', 'Named containers that grew:', ...grown.slice(0, 8).map((c) => `  ${containerText(c)}`));
  const caches = (result.caches ?? []).filter((c) => (c.grown ?? 0) > 0);
  if (caches.length) lines.push('', 'Caches that grew:', ...caches.slice(0, 5).map((c) => `  ${cacheText(c)}`));
  const stats = statsText(result.census);
  if (stats) lines.push('', stats);
  if (result.halves) lines.push('A census halfway too: growth that shows in both halves is a trend; in one half only, objects alive for a while (requests in flight, a batch).');
  if (result.middleSkipped) lines.push(`No census halfway: ${result.middleSkipped}.`);
  return lines;
}

/**
 * What a type must grow by in a diff to count as growing (issue 19: a steady service's noise is not a
 * leak). Relative, never a fixed number of bytes: a share of the heap the census counted. With a
 * middle census (`halves`), growth must show in both halves too: a batch of objects alive at one
 * census only (a report being built, requests in flight) is not a trend. Without one (a heap whose
 * census is long beside the interval), the bar is raised to what any type fell by in the same diff
 * (the churn of this process: what a type gains or loses between two censuses without any trend).
 */
export interface GrowthBar {
  /** Bytes the census counted (the bigger of the two). */
  heapBytes: number;
  /** The bar in bytes. */
  bytes: number;
  /** `heap`: the heap's share decided; `churn`: a type that fell by more. */
  by: 'heap' | 'churn';
  /** The type that fell most, with `by: 'churn'`. */
  churnType?: string;
  /** Whether each row says what it grew by in the first half (a middle census was taken). */
  halves: boolean;
  /** Where the middle census fell in the interval (rows, caches): a steady trend's expected first-half share. */
  share?: { rows: number; caches: number };
  /** Each row's size change by type: what an owner's growth must be backed by. */
  sizes?: Record<string, number>;
}

/** A type grows when it grew by this share of the heap at least (0.1 %: 1 MB of a 1 GB heap). */
export const HEAP_SHARE = 0.001;
/**
 * With a middle census, each half holds at least this part of what a steady trend would put in it
 * (its share of the interval): a half at the middle of the interval gets 25 % of the growth at least.
 */
export const HALF_SHARE = 0.5;

export function growthBar(diff: MemDiffResult): GrowthBar {
  const heapBytes = Math.max(diff.totals?.before.size ?? 0, diff.totals?.after.size ?? 0);
  const fell = diff.rows.reduce<MemDiffRow | undefined>((low, r) => (growthOf(r) < 0 && (!low || growthOf(r) < growthOf(low)) ? r : low), undefined);
  const heapBar = heapBytes * HEAP_SHARE;
  const churn = fell ? -growthOf(fell) : 0;
  const halves = diff.rows.some((r) => r.firstHalf !== undefined);
  // Without a middle census, the churn bar stands in for the halves; with one, it would hide a leak
  // behind a batch that happened to be alive at the first census only.
  const share = diff.firstHalfShare;
  const sizes = Object.fromEntries(diff.rows.map((r) => [r.type, r.size]));
  return !halves && churn > heapBar ? { heapBytes, bytes: churn, by: 'churn', churnType: fell!.type, halves, sizes }
    : { heapBytes, bytes: heapBar, by: 'heap', halves, sizes, ...(share ? { share } : {}) };
}

/** Containers an object can keep adding to. */
const GROWABLE = new Set(['list', 'dict', 'set', 'bytearray', 'collections.deque', 'collections.OrderedDict', 'collections.defaultdict']);

/**
 * A row's growth as the verdict counts it: a class's own growth plus what its instances own alone,
 * that only as far as the owned types grew in the heap too. What an instance owns "alone" changes
 * when another holder lets go (a report that held each product's name and price, dropped): the
 * instances then own more, and the heap did not grow.
 */
export function backedGrowth(row: MemDiffRow, bar: GrowthBar): number {
  if (!isOwner(row) || !bar.sizes || !row.owned || row.owned <= 0) return growthOf(row);
  // No new instances: they can only grow through what they keep adding to (a list, a dict of their
  // own). Scalars they own alone come and go with other holders (a report that shared each product's
  // name and price, dropped) while the heap's str and float churn with requests (steady_service, 1 run in 3).
  const kinds = Object.keys(row.ownsEach ?? {}).filter((k) => row.count > 0 || GROWABLE.has(k));
  const grew = kinds.reduce((sum, k) => sum + Math.max(0, bar.sizes![k] ?? 0), 0);
  return row.size + Math.min(row.owned, grew);
}

/** Both halves hold a fair part of `total`: at least HALF_SHARE of what a steady trend puts in each. */
function inBothHalves(total: number, first: number, share = 0.5): boolean {
  const s = Math.min(0.9, Math.max(0.1, share));
  return first >= HALF_SHARE * s * total && total - first >= HALF_SHARE * (1 - s) * total;
}

/**
 * `grows`: above the bar (and in both halves when there were two); `once`: above the bar over the
 * interval but not in both halves (alive at one census: churn); `below`: under the bar.
 */
export function growthVerdict(row: MemDiffRow, bar: GrowthBar): 'grows' | 'once' | 'below' {
  const raw = growthOf(row);
  const total = backedGrowth(row, bar);
  if (total <= 0 || total < bar.bytes) return 'below';
  if (!row.firstHalf) return 'grows';
  // The first half's share of the raw growth, applied to what is backed.
  const first = (row.firstHalf.growth ?? row.firstHalf.size) * (raw > 0 ? total / raw : 1);
  return inBothHalves(total, first, bar.share?.rows) ? 'grows' : 'once';
}

/** An lru cache grows: unbounded (a bounded one stops at its bound), by entries in both halves when there were two. */
export function cacheGrows(c: LruCache, minEntries: number, share?: number): boolean {
  const grown = c.grown ?? 0;
  if (c.maxsize !== null || grown < minEntries) return false;
  if (c.firstHalfGrown === undefined || c.firstHalfGrown === null) return true;
  return inBothHalves(grown, c.firstHalfGrown, share);
}
