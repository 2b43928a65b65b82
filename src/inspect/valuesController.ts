import * as vscode from 'vscode';
import { CommandId, ViewId } from '../common/commandIds';
import type { Logger } from '../common/logger';
import { showError } from '../common/showError';
import type { Session } from '../session/session';
import { formatInspectOptions, parseInspectOptions } from './inspectOptions';
import { Inspections, type Inspection } from './inspections';
import { ValueDocuments, VALUE_SCHEME } from './valueDocuments';
import { ValuesView, type ValuesNode } from './valuesView';
import { instancesDocument, valueLocation } from './valueText';

/**
 * The Values view and what its rows do: every value or instance listing the user asked for, read
 * with progress (Cancel for instances), refreshed, re-read with new options, opened as a read-only
 * document, copied, removed.
 */
export class ValuesController implements vscode.Disposable {
  private readonly inspections = new Inspections();
  private readonly view: ValuesView;
  private readonly tree: vscode.TreeView<ValuesNode>;
  private readonly documents = new ValueDocuments(this.inspections);
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly log: Logger, sessionsChanged: (listener: () => void) => { dispose(): void }) {
    this.view = new ValuesView(this.inspections, sessionsChanged);
    this.tree = vscode.window.createTreeView(ViewId.values, { treeDataProvider: this.view, showCollapseAll: true });
    this.disposables = [this.inspections, this.view, this.tree, this.documents,
      vscode.workspace.registerTextDocumentContentProvider(VALUE_SCHEME, this.documents),
      vscode.commands.registerCommand(CommandId.refreshInspection, (node?: ValuesNode) => this.refresh(node)),
      vscode.commands.registerCommand(CommandId.editInspection, (node?: ValuesNode) => this.editOptions(node)),
      vscode.commands.registerCommand(CommandId.openInspection, (node?: ValuesNode) => this.openDocument(node)),
      vscode.commands.registerCommand(CommandId.copyInspection, (node?: ValuesNode) => this.copy(node)),
      vscode.commands.registerCommand(CommandId.removeInspection, (node?: ValuesNode) => {
        const inspection = this.rootOf(node);
        if (inspection) this.inspections.remove(inspection);
      }),
      vscode.commands.registerCommand(CommandId.clearInspections, () => this.inspections.clear())];
  }

  /** Adds a value or an instance listing, reads it, reveals it; a failure is shown once (and stays on its row). */
  async show(session: Session, what: Parameters<Inspections['add']>[1]): Promise<Inspection> {
    await vscode.commands.executeCommand(`${ViewId.values}.focus`);
    const label = what.kind === 'instances'
      ? vscode.l10n.t('PyFlight: listing the live instances of {0} in process {1}…', `${what.params.module}.${what.params.class}`, session.pid) : '';
    const inspection = await this.withReadProgress(label, what.kind, (signal) => this.inspections.add(session, what, signal));
    await this.tree.reveal(this.view.rootOf(inspection), { select: true, focus: false }).then(undefined, () => undefined);
    if (inspection.error) void showError(this.log, `inspect ${what.params.module}`, inspection.error);
    return inspection;
  }

  /** In the view for values (quick); in a notification with Cancel for instances (a walk of every object the collector tracks). */
  private withReadProgress(label: string, kind: Inspection['kind'], read: (signal?: AbortSignal) => Promise<Inspection>): Thenable<Inspection> {
    if (kind === 'value') return vscode.window.withProgress({ location: { viewId: ViewId.values } }, () => read());
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, cancellable: true, title: label }, (_progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return read(abort.signal);
    });
  }

  private rootOf(node?: ValuesNode): Inspection | undefined {
    if (node?.kind === 'inspection') return node.inspection;
    const selected = this.tree.selection[0];
    return selected?.kind === 'inspection' ? selected.inspection : undefined;
  }

  /** Reads an inspection again (Refresh, or new options), when its process is still attached. */
  private async reread(inspection: Inspection, read: (signal?: AbortSignal) => Promise<Inspection>): Promise<void> {
    if (inspection.session.state !== 'ready') {
      void vscode.window.showWarningMessage(vscode.l10n.t('Process {0} is no longer attached.', inspection.session.pid));
      return;
    }
    await this.withReadProgress(vscode.l10n.t('PyFlight: reading the live instances again…'), inspection.kind, read);
    if (inspection.error) void showError(this.log, `inspect ${inspection.params.module}`, inspection.error);
  }

  private async refresh(node?: ValuesNode): Promise<void> {
    const inspection = this.rootOf(node);
    if (inspection) await this.reread(inspection, (signal) => this.inspections.refresh(inspection, signal));
  }

  private async editOptions(node?: ValuesNode): Promise<void> {
    const inspection = this.rootOf(node);
    if (!inspection) return;
    const { kind, params } = inspection;
    const title = kind === 'value' ? valueLocation(params) : `${params.module}.${params.class}`;
    const text = await vscode.window.showInputBox({
      title: vscode.l10n.t('PyFlight: options of {0}', title),
      prompt: kind === 'value' ? vscode.l10n.t('-x depth (1-6), -e "expression on target", -r (repr), -v (no cuts)')
        : vscode.l10n.t('-n instances shown (1-1000), -x depth (1-6), -e "expression on instances", -r (repr), -v (no cuts)'),
      value: formatInspectOptions(params),
      validateInput: (v) => {
        try {
          parseInspectOptions(v, kind);
          return undefined;
        } catch (e) {
          return (e as Error).message;
        }
      },
    });
    if (text === undefined) return;
    const options = parseInspectOptions(text, kind);
    await this.reread(inspection, (signal) => this.inspections.setOptions(inspection, options, signal));
  }

  private async openDocument(node?: ValuesNode): Promise<void> {
    const inspection = this.rootOf(node);
    if (!inspection) return;
    const document = await vscode.workspace.openTextDocument(this.documents.uriOf(inspection));
    await vscode.window.showTextDocument(document, { preview: false });
  }

  /** A row's own text (a field, an instance, a message), or a whole value / listing. */
  private async copy(node?: ValuesNode): Promise<void> {
    const target = node ?? this.tree.selection[0];
    if (!target) return;
    let text: string | undefined;
    if (target.kind !== 'inspection') text = target.text;
    else if (target.inspection.kind === 'value') text = target.inspection.result?.value;
    else if (target.inspection.result) text = instancesDocument(target.inspection.result, target.inspection.session.pid);
    if (!text) return;
    await vscode.env.clipboard.writeText(text);
    vscode.window.setStatusBarMessage(vscode.l10n.t('PyFlight: copied'), 3000);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
