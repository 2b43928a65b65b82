/**
 * Messages between the flame graph panel (extension host) and its webview, each way a union
 * (as vscode-hexeditor's shared/protocol.ts). The webview never receives the whole profile: the
 * host sends only the frames wider than a pixel at the current zoom and answers zoom and search
 * from its own aggregate. Every string here may come from the target: render as text only.
 */

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
}

/** A row of the hot-functions table; `index` is its place in the host's list (to open its source). */
export interface HotRow {
  index: number;
  name: string;
  where?: string;
  kind: FrameKind;
  self: number;
  total: number;
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
  | { type: 'export'; format: 'speedscope' | 'collapsed' };

/** What the webview keeps across a hide/show (vscode.getState/setState). */
export interface FlameWebviewState {
  query: string;
}
