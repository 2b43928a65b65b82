import * as vscode from 'vscode';
import type { Inspection, Inspections } from './inspections';
import { instancesDocument, valueDocument, valueLocation } from './valueText';

export const VALUE_SCHEME = 'pyflight-value';

/** `pyflight-value:/1234/__main__.CONFIG.txt?7`: read-only documents of inspections, updated on refresh. */
export class ValueDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly opened = new Map<number, vscode.Uri>();
  private readonly subscription: { dispose(): void };

  constructor(private readonly inspections: Inspections) {
    this.subscription = inspections.onDidChange((inspection) => {
      const uri = inspection && this.opened.get(inspection.id);
      if (uri && !inspection.loading) this.changed.fire(uri);
    });
  }

  uriOf(inspection: Inspection): vscode.Uri {
    const name = inspection.kind === 'value' ? valueLocation(inspection.params) : `${inspection.params.module}.${inspection.params.class}-instances`;
    const uri = vscode.Uri.from({ scheme: VALUE_SCHEME, path: `/${inspection.session.pid}/${name.replace(/[^\w.-]/g, '_')}.txt`, query: String(inspection.id) });
    this.opened.set(inspection.id, uri);
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const inspection = this.inspections.get(Number(uri.query));
    if (!inspection) return '# This value is no longer kept (removed from the Values view).\n';
    const pid = inspection.session.pid;
    if (inspection.error) return `# ${inspection.error.message}\n# ${inspection.error.hint ?? ''}\n`;
    if (!inspection.result) return '# reading…\n';
    return inspection.kind === 'value' ? valueDocument(inspection.result, pid, inspection.readAt) : instancesDocument(inspection.result, pid, inspection.readAt);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
