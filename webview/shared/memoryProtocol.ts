/**
 * Messages between the memory panel (extension host) and its webview, each way a union. The host
 * keeps the snapshots (per session, in memory) and sends the table to show; sorting is done in the
 * webview. Type names come from the target: render them as text only.
 */

/** One table row; in a diff or a comparison, count and size are deltas. */
export interface MemTableRow {
  type: string;
  count: number;
  size: number;
  /** The size was read back from pympler's KB/MB text with two decimals. */
  sizeApprox: boolean;
  /** Comparison only: the type is in one of the two summaries only (below the other's limit). */
  partial?: boolean;
  /** In a diff, list and str also count pympler's own first snapshot. */
  bookkeeping?: boolean;
  /** A census diff: what the row is ranked by (a class: its growth with what its instances hold alone; a built-in: the growth no class explains). */
  growth?: number;
  /** A census diff: a class written in Python (its Δ owned is its own growth plus what its instances hold alone). */
  owner?: boolean;
  /** A census diff: `each holds a list and 64 float`. */
  owns?: string;
  /** A census diff: the named containers that keep them, or the classes whose instances hold them. */
  heldBy?: string;
  /** Where its live instances can be listed (a class name), for rows that grew; `cli` is the same as a command line. */
  instances?: { module: string; class: string; cli: string };
}

export interface SnapshotInfo {
  id: number;
  kind: 'summary' | 'diff';
  /** "Summary 14:02:11 · top 30" / "Diff 10 s · 14:03:40" */
  label: string;
}

export type ShownKind = 'summary' | 'diff' | 'compare';

export interface MemoryView {
  title: string;
  pid: number;
  /** Session still attached: Summary / Diff buttons work. */
  live: boolean;
  shown: { kind: ShownKind; caption: string; deltas: boolean; note?: string } | undefined;
  rows: MemTableRow[];
  /** Biggest size growth first (diffs and comparisons). */
  growers: MemTableRow[];
  snapshots: SnapshotInfo[];
  /** The snapshot shown, or the two compared (earlier, later). */
  selected?: number;
  compared?: { from: number; to: number };
  /** A diff in progress: `waitingUntil` (ms epoch) once the agent sleeps. */
  busy?: { label: string; waitingUntil?: number; progress?: string };
}

/** Host → webview. */
export type ToWebview =
  | { type: 'view'; view: MemoryView };

/** Webview → host. `ready` first; the host answers with a `view`. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'summary' }
  | { type: 'diff' }
  | { type: 'cancel' }
  | { type: 'show'; id: number }
  | { type: 'compare'; from: number; to: number }
  | { type: 'exportCsv' }
  | { type: 'copy'; text: string }
  /** Show Live Instances of this class (the Values view). */
  | { type: 'instances'; module: string; class: string };

export type SortKey = 'type' | 'count' | 'size' | 'growth';

/** What the webview keeps across a hide/show (vscode.getState/setState). */
export interface MemoryWebviewState {
  sort: SortKey;
  descending: boolean;
}
