import * as vscode from 'vscode';
import type { FromWebview, TimelineView, ToWebview } from '../../webview/shared/torchProtocol';
import { AppPanel } from '../webview/appPanel';

/** The timeline of one profiled call (webview app `torchtrace`); Reveal / Save As go back to the caller. */
export function openTimelinePanel(extensionUri: vscode.Uri, view: TimelineView, actions: { reveal(): void; saveAs(): void }): vscode.Disposable {
  const app: AppPanel<ToWebview, FromWebview> = new AppPanel<ToWebview, FromWebview>(extensionUri, 'pyflight.torchTimeline', 'torchtrace', view.title, (message) => {
    if (message.type === 'ready') app.post(() => ({ type: 'view', view }));
    else if (message.type === 'reveal') actions.reveal();
    else if (message.type === 'saveAs') actions.saveAs();
  });
  return app;
}
