import * as vscode from 'vscode';
import type { FlameView, FromWebview, ToWebview } from '../../webview/shared/flameProtocol';
import { AppPanel } from '../webview/appPanel';
import type { ExportFormat, HotRow } from '../../webview/shared/flameProtocol';
import type { CallTree } from './callTree';
import { layoutFrames, where } from './flameLayout';
import { isDiffProfile, type DiffHotFunction } from './diff';
import { profileNote, type CpuProfile, type HotFunction } from './model';
import type { WorkerShare } from './profileStore';
import { profileForWorker } from './workers';

export interface FlameGraphInput {
  title: string;
  /** A DiffProfile (diff.ts) makes a differential flame graph. */
  profile: CpuProfile;
  live: boolean;
  note?: string;
  /** Diff mode: what the two sides are called. */
  diff?: { before: string; after: string };
  /** A profile of all workers: each worker's own profile (the filter). */
  workers?: WorkerShare[];
}

const HOT_ROWS = 60;

/**
 * A flame graph panel. The profile stays here (the extension host): the webview gets only the
 * frames wider than a pixel at the current zoom, and zoom and search are answered from here.
 */
export class FlameGraphPanel implements vscode.Disposable {
  private readonly app: AppPanel<ToWebview, FromWebview>;
  private input: FlameGraphInput;
  private calls!: CallTree;
  private hot: HotFunction[] = [];
  private zoomPath: string[] = [];
  private width = 1000;
  private query = '';
  private icicle = false;
  private worker: number | undefined;
  /** Set by whoever can save the profile (speedscope JSON, collapsed stacks). */
  onExport: ((format: ExportFormat) => void) | undefined;
  readonly onDidDispose: vscode.Event<void>;

  constructor(extensionUri: vscode.Uri, input: FlameGraphInput, private readonly openSource: (file: string, line?: number) => void) {
    this.input = input;
    this.reindex();
    // Shown again after being hidden, the app also restores its own search text (vscode.setState).
    this.app = new AppPanel<ToWebview, FromWebview>(extensionUri, 'pyflight.flameGraph', 'flamegraph', input.title, (message) => this.onMessage(message));
    this.onDidDispose = this.app.onDidDispose;
  }

  get title(): string {
    return this.input.title;
  }

  reveal(): void {
    this.app.reveal();
  }

  /** A new aggregate (live recording, or the final one): the zoom is kept while its frame exists. */
  update(input: FlameGraphInput): void {
    this.input = input;
    this.reindex();
    this.app.title = input.title;
    this.post();
  }

  /** The profile on screen: the whole one, or one worker's. */
  private get shown(): CpuProfile {
    return this.input.workers ? profileForWorker(this.input.profile, this.input.workers, this.worker) : this.input.profile;
  }

  private reindex(): void {
    if (this.worker !== undefined && !this.input.workers?.some((w) => w.pid === this.worker)) this.worker = undefined;
    const profile = this.shown;
    this.calls = profile.calls;
    this.hot = isDiffProfile(profile)
      ? profile.hot.filter((h) => Math.abs(h.delta) >= 0.05).slice(0, HOT_ROWS) // what "±0" would show is left out
      : profile.hot.filter((h) => h.self > 0 && h.kind !== 'idle').slice(0, HOT_ROWS); // waiting is not hot (waits.ts)
  }

  /** The zoomed frame, found again by its path of names in a newer aggregate. */
  private get zoom(): number {
    let node = 0;
    for (const name of this.zoomPath) {
      const child = this.calls.childNamed(node, name);
      if (child === undefined) break;
      node = child;
    }
    return node;
  }

  /** A node id from the webview, if it is one of the tree's. */
  private node(id: number): number | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.calls.size ? id : undefined;
  }

  private onMessage(message: FromWebview): void {
    switch (message.type) {
      case 'ready':
        this.width = message.width;
        this.post();
        return;
      case 'resize':
        this.width = message.width;
        this.post();
        return;
      case 'zoom': {
        const node = this.node(message.id);
        if (node !== undefined) this.zoomPath = this.calls.pathTo(node).slice(1).map((n) => this.calls.info(n).name);
        this.post();
        return;
      }
      case 'search':
        this.query = message.query;
        this.post();
        return;
      case 'setIcicle':
        this.icicle = message.icicle;
        this.post();
        return;
      case 'open': {
        const node = this.node(message.id);
        if (node === undefined) return;
        const info = this.calls.info(node);
        if (info.file) this.openSource(info.file, this.calls.line(node));
        else void vscode.window.showInformationMessage(vscode.l10n.t('{0} has no source file (native or built-in code).', info.name));
        return;
      }
      case 'openHot': {
        const row = this.hot[message.index];
        if (row?.file) this.openSource(row.file, row.line);
        return;
      }
      case 'export':
        this.onExport?.(message.format);
        return;
      case 'worker':
        this.worker = message.pid ?? undefined;
        this.reindex();
        this.post();
        return;
    }
  }

  /** The view for the current zoom, search and width. */
  view(): FlameView {
    const calls = this.calls;
    const zoom = this.zoom;
    const search = this.query.trim() ? calls.search(this.query) : undefined;
    return {
      title: this.input.title,
      totalSamples: calls.total(0),
      zoomSamples: calls.total(zoom),
      breadcrumb: calls.pathTo(zoom).map((id) => ({ id, name: calls.info(id).name })),
      frames: layoutFrames(calls, zoom, 1 / Math.max(this.width, 1), search?.matches),
      hot: this.hot.map((h, index): HotRow => {
        const d = 'delta' in h ? (h as DiffHotFunction) : undefined;
        return { index, name: h.function, where: where(h), kind: h.kind, self: h.self, total: h.total,
          ...(d ? { diff: { beforeSelfPercent: d.beforeSelfPercent, delta: d.delta, totalDelta: d.totalDelta } } : {}) };
      }),
      live: this.input.live,
      icicle: this.icicle,
      search: search ? { query: this.query, matchedSamples: search.matchedSamples, matchCount: search.matchCount } : undefined,
      note: [this.input.note, profileNote(this.shown)].filter(Boolean).join(' · ') || undefined,
      ...(this.input.diff && isDiffProfile(this.input.profile)
        ? { diff: { ...this.input.diff, beforeSamples: this.input.profile.beforeSamples, afterSamples: this.input.profile.samples } } : {}),
      ...(this.input.workers
        ? { workers: { options: this.input.workers.map((w) => ({ pid: w.pid, samples: w.profile.samples, ...(w.error ? { error: w.error } : {}) })), selected: this.worker } }
        : {}),
    };
  }

  private post(): void {
    this.app.post(() => ({ type: 'view', view: this.view() }));
  }

  dispose(): void {
    this.app.dispose();
  }
}
