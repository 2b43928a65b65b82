/**
 * Messages between the PyTorch timeline panel (extension host) and its webview. The host sends the
 * operators of one profiled call, laid out; names, shapes and frames come from the target: render
 * them as text only.
 */

export interface TimelineBar {
  name: string;
  /** Microseconds from the first operator's start. */
  startUs: number;
  durUs: number;
  selfUs: number;
  /** Lane: nesting among operators (0 = called from Python). */
  depth: number;
  shape: string | null;
  /** `TinyMLP › Linear`, or null outside any nn.Module. */
  module: string | null;
  /** `forward (torch_service.py:24)`: the Python frame outside torch that issued it. */
  caller: string | null;
}

export interface TimelineView {
  title: string;
  /** The Chrome trace file (its name is shown; Reveal / Save As act on it). */
  fileName: string;
  totalUs: number;
  lanes: number;
  bars: TimelineBar[];
  /** Operators left out beyond the drawing limit (shortest first). */
  leftOut: number;
}

export type ToWebview = { type: 'view'; view: TimelineView };
export type FromWebview = { type: 'ready' } | { type: 'reveal' } | { type: 'saveAs' };
