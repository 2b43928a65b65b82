import * as vscode from 'vscode';
import type { FromWebview, TimelineView, ToWebview } from '../../webview/shared/torchProtocol';
import { openAppPanel } from '../webview/webviewHtml';

/** The timeline of one profiled call (webview app `torchtrace`); Reveal / Save As go back to the caller. */
export function openTimelinePanel(extensionUri: vscode.Uri, view: TimelineView, actions: { reveal(): void; saveAs(): void }): vscode.WebviewPanel {
  const panel = openAppPanel(extensionUri, 'pyflight.torchTimeline', 'torchtrace', view.title);
  // Hidden and shown again, the webview starts afresh and says `ready`: it gets the view again.
  const sub = panel.webview.onDidReceiveMessage((message: FromWebview) => {
    if (message.type === 'ready') void panel.webview.postMessage({ type: 'view', view } satisfies ToWebview);
    else if (message.type === 'reveal') actions.reveal();
    else if (message.type === 'saveAs') actions.saveAs();
  });
  panel.onDidDispose(() => sub.dispose());
  return panel;
}
