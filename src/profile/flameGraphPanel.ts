import * as vscode from 'vscode';
import type { FlameView, FromWebview, ToWebview } from '../../webview/shared/flameProtocol';
import { webviewHtml } from '../webview/webviewHtml';
import { hotFunctions, indexTree, layoutFrames, pathTo, searchTree, type FlameNode } from './flameLayout';

export interface FlameGraphInput {
  title: string;
  root: FlameNode;
  live: boolean;
  note?: string;
}

/**
 * A flame graph panel. The profile stays here (the extension host): the webview gets only the
 * frames wider than a pixel at the current zoom, and zoom and search are answered from here.
 */
export class FlameGraphPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private input: FlameGraphInput;
  private byId = new Map<number, FlameNode>();
  private hot: ReturnType<typeof hotFunctions> = [];
  private zoomId: number;
  private width = 1000;
  private query = '';
  private icicle = false;
  private ready = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly onDidDisposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.onDidDisposeEmitter.event;

  constructor(extensionUri: vscode.Uri, input: FlameGraphInput, private readonly openSource: (file: string, line?: number) => void) {
    this.input = input;
    this.zoomId = input.root.id;
    this.reindex();
    this.panel = vscode.window.createWebviewPanel('pyflight.flameGraph', input.title, vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
    });
    // Hidden and shown again, the webview starts afresh and says `ready`: it gets the view again,
    // and restores its own search text (vscode.setState).
    this.panel.webview.html = webviewHtml(this.panel.webview, extensionUri, 'flamegraph', input.title);
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((message: FromWebview) => this.onMessage(message)),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  get title(): string {
    return this.input.title;
  }

  reveal(): void {
    this.panel.reveal();
  }

  /** A new aggregate (live recording, or the final one): the zoom is kept while its frame exists. */
  update(input: FlameGraphInput): void {
    this.input = input;
    this.reindex();
    if (!this.byId.has(this.zoomId)) this.zoomId = input.root.id;
    this.panel.title = input.title;
    this.post();
  }

  private reindex(): void {
    this.byId = indexTree(this.input.root);
    this.hot = hotFunctions(this.input.root);
  }

  private onMessage(message: FromWebview): void {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        this.width = message.width;
        this.post();
        return;
      case 'resize':
        this.width = message.width;
        this.post();
        return;
      case 'zoom':
        if (this.byId.has(message.id)) this.zoomId = message.id;
        this.post();
        return;
      case 'search':
        this.query = message.query;
        this.post();
        return;
      case 'setIcicle':
        this.icicle = message.icicle;
        this.post();
        return;
      case 'open': {
        const node = this.byId.get(message.id);
        if (node?.file) this.openSource(node.file, node.line);
        else if (node) void vscode.window.showInformationMessage(vscode.l10n.t('{0} has no source file (native or built-in code).', node.name));
        return;
      }
      case 'export':
        return;
    }
  }

  /** The view for the current zoom, search and width. */
  view(): FlameView {
    const root = this.input.root;
    const zoom = this.byId.get(this.zoomId) ?? root;
    const search = searchTree(root, this.query);
    return {
      title: this.input.title,
      totalSamples: root.total,
      zoomSamples: zoom.total,
      breadcrumb: pathTo(zoom).map((n) => ({ id: n.id, name: n.name })),
      frames: layoutFrames(zoom, 1 / Math.max(this.width, 1), search.matches),
      hot: this.hot,
      live: this.input.live,
      icicle: this.icicle,
      search: this.query.trim() ? { query: this.query, matchedSamples: search.matchedSamples, matchCount: search.matches.size } : undefined,
      note: this.input.note,
    };
  }

  private post(): void {
    if (!this.ready) return;
    const message: ToWebview = { type: 'view', view: this.view() };
    void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
    this.onDidDisposeEmitter.fire();
    this.onDidDisposeEmitter.dispose();
    this.panel.dispose();
  }
}
