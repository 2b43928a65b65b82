import * as vscode from 'vscode';
import { openAppPanel } from './webviewHtml';

/**
 * A panel of one of our webview apps, typed by its protocol (webview/shared/*Protocol.ts). A message
 * to the app waits for its `ready`: hidden and shown again, the app starts afresh and says `ready`
 * again, and its owner answers with the whole view. The owner's handler gets every message from the
 * app, `ready` included.
 */
export class AppPanel<To, From extends { type: string }> implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private ready = false;
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly onDidDisposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.onDidDisposeEmitter.event;

  constructor(extensionUri: vscode.Uri, viewType: string, app: string, title: string, onMessage: (message: From) => void) {
    this.panel = openAppPanel(extensionUri, viewType, app, title);
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((message: From) => {
        if (message.type === 'ready') this.ready = true;
        onMessage(message);
      }),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  set title(title: string) {
    this.panel.title = title;
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  /** Made and sent only once the app is ready (its `ready` asks for the whole view anyway). */
  post(make: () => To): void {
    if (this.ready) void this.panel.webview.postMessage(make());
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.onDidDisposeEmitter.fire();
    this.onDidDisposeEmitter.dispose();
    this.panel.dispose();
  }
}
