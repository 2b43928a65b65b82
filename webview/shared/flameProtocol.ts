/**
 * Messages between the flame graph panel (extension host) and its webview, each way a union
 * (as vscode-hexeditor's shared/protocol.ts). The webview never receives the whole profile: the
 * host sends only the frames wider than a pixel at the current zoom and answers zoom and search
 * from its own aggregate. Every string here may come from the target: render as text only.
 */

/** What Save… writes: speedscope JSON, collapsed stacks, a static SVG. */
export type ExportFormat = 'speedscope' | 'collapsed' | 'svg';

export type FrameKind = 'own' | 'library' | 'stdlib' | 'native' | 'idle';

/** One rectangle to draw: x and w are fractions of the zoomed frame's width. */
export interface VisibleFrame {
  id: number;
  depth: number;
  x: number;
  w: number;
  name: string;
  kind: FrameKind;
  self: number;
  total: number;
  match: boolean;
  /** "file:line", for the tooltip. */
  where?: string;
  /** Diff mode: the frame's samples in the before-profile, and the change of its share of all
   * samples (after share − before share, fractions of each profile's own total). */
  diff?: { beforeSelf: number; beforeTotal: number; delta: number; selfDelta: number };
}

/** A row of the hot-functions table; `index` is its place in the host's list (to open its source). */
export interface HotRow {
  index: number;
  name: string;
  where?: string;
  kind: FrameKind;
  self: number;
  total: number;
  /** Diff mode: self share before and the change (percentage points), the table's order. */
  diff?: { beforeSelfPercent: number; delta: number; totalDelta: number };
}

/** A choice of the per-worker filter (a profile of all workers). */
export interface WorkerOption {
  pid: number;
  samples: number;
  /** Why the worker has no samples. */
  error?: string;
}

export interface FlameView {
  title: string;
  /** Samples in the whole profile, and in the zoomed frame. */
  totalSamples: number;
  zoomSamples: number;
  /** Root first; the last one is the zoomed frame. */
  breadcrumb: { id: number; name: string }[];
  frames: VisibleFrame[];
  hot: HotRow[];
  /** Still recording: more updates will come. */
  live: boolean;
  icicle: boolean;
  search: { query: string; matchedSamples: number; matchCount: number } | undefined;
  note?: string;
  /** A differential flame graph: frames coloured by growth / shrinkage, widths from `after`. */
  diff?: { before: string; after: string; beforeSamples: number; afterSamples: number };
  /** A profile of all workers: the filter's choices, and the worker shown (undefined: all). */
  workers?: { options: WorkerOption[]; selected?: number };
}

/** Host → webview. */
export type ToWebview =
  | { type: 'view'; view: FlameView };

/** Webview → host. `ready` first; the host answers with a `view`. */
export type FromWebview =
  | { type: 'ready'; width: number }
  | { type: 'resize'; width: number }
  | { type: 'zoom'; id: number }
  | { type: 'search'; query: string }
  | { type: 'open'; id: number }
  | { type: 'openHot'; index: number }
  | { type: 'setIcicle'; icicle: boolean }
  | { type: 'export'; format: ExportFormat }
  | { type: 'worker'; pid: number | null };

/** What the webview keeps across a hide/show (vscode.getState/setState). */
export interface FlameWebviewState {
  query: string;
}
