import * as vscode from 'vscode';
import type { FromWebview, MemoryView, ToWebview } from '../../webview/shared/memoryProtocol';
import { AppPanel } from '../webview/appPanel';

/**
 * The memory panel of one session: a webview that shows the view its owner computes
 * (memoryCommands.ts keeps the snapshots) and forwards the user's requests to it.
 */
export class MemoryPanel implements vscode.Disposable {
  private readonly app: AppPanel<ToWebview, FromWebview>;
  readonly onDidDispose: vscode.Event<void>;

  constructor(extensionUri: vscode.Uri, title: string, private readonly viewOf: () => MemoryView, onMessage: (message: FromWebview) => void) {
    this.app = new AppPanel<ToWebview, FromWebview>(extensionUri, 'pyflight.memory', 'memory', title, (message) => {
      if (message.type === 'ready') this.update();
      else onMessage(message);
    });
    this.onDidDispose = this.app.onDidDispose;
  }

  reveal(): void {
    this.app.reveal();
  }

  update(): void {
    this.app.post(() => {
      const view = this.viewOf();
      this.app.title = view.title;
      return { type: 'view', view };
    });
  }

  dispose(): void {
    this.app.dispose();
  }
}
