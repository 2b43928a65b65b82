import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/**
 * A panel running the webview app `app`: scripts on, resources only from dist/webview, the shell of
 * `webviewHtml`. Hidden and shown again, the app starts afresh and says `ready` to its host.
 */
export function openAppPanel(extensionUri: vscode.Uri, viewType: string, app: string, title: string): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(viewType, title, vscode.ViewColumn.Active, {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
  });
  panel.webview.html = webviewHtml(panel.webview, extensionUri, app, title);
  return panel;
}

/**
 * The HTML of a webview app bundled as dist/webview/<app>.js (+ .css): a strict CSP with a nonce,
 * nothing remote, no inline script or style, and no target data in the markup (the app receives it
 * as messages and renders it as text).
 */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, app: string, title: string): string {
  const nonce = randomBytes(18).toString('base64');
  const asset = (ext: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${app}.${ext}`));
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${asset('css')}">
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${asset('js')}"></script>
</body>
</html>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
