import * as vscode from 'vscode';
import type { FromWebview, MemoryView, ToWebview } from '../../webview/shared/memoryProtocol';
import { openAppPanel } from '../webview/webviewHtml';

/**
 * The memory panel of one session: a webview that shows the view its owner computes
 * (memoryCommands.ts keeps the snapshots) and forwards the user's requests to it.
 */
export class MemoryPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private ready = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly onDidDisposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.onDidDisposeEmitter.event;

  constructor(extensionUri: vscode.Uri, title: string, private readonly viewOf: () => MemoryView, private readonly onMessage: (message: FromWebview) => void) {
    // Hidden and shown again, the webview starts afresh and says `ready`: it gets the view again.
    this.panel = openAppPanel(extensionUri, 'pyflight.memory', 'memory', title);
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((message: FromWebview) => {
        if (message.type === 'ready') {
          this.ready = true;
          this.update();
        } else {
          this.onMessage(message);
        }
      }),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  update(): void {
    if (!this.ready) return;
    const view = this.viewOf();
    this.panel.title = view.title;
    const message: ToWebview = { type: 'view', view };
    void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
    this.onDidDisposeEmitter.fire();
    this.onDidDisposeEmitter.dispose();
    this.panel.dispose();
  }
}
