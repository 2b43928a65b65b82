import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import type { Logger } from '../common/logger';
import { plainText } from '../common/plainText';
import { showError } from '../common/showError';
import { editorTarget } from '../probes/probeTarget';
import type { ReloadParams } from '../protocol/helper';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import { functionLabel, reloadText } from './liveText';
import type { SourceSnapshots } from './sourceSnapshots';

export interface ReloadDeps {
  log: Logger;
  sessions: SessionManager;
  snapshots: SourceSnapshots;
  diffDocuments: ReloadDiffDocuments;
  /** after a reload: the CodeLens asks again which functions differ */
  afterReload: (document: vscode.TextDocument) => void;
}

/** What reload cannot do, said in every confirmation. */
export const RELOAD_LIMITS = 'Reload swaps the code of this one function in place, as flight-profiler\'s reload does: calls that '
  + 'start afterwards run the new code. It cannot add globals or imports, update callers of a changed signature, '
  + 'change what a closure captures, or change calls already running (a loop inside this function keeps the old code '
  + 'until it returns). Saving the file does not reload; restarting the process undoes the reload.';

/** Read-only documents for the diff editor: the code running now and the editor's version. */
export class ReloadDiffDocuments implements vscode.TextDocumentContentProvider {
  static readonly scheme = 'pyflight-reload';
  private readonly texts = new Map<string, string>();
  private next = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.path) ?? '';
  }

  add(name: string, text: string): vscode.Uri {
    const key = `/${this.next++}/${name}`;
    this.texts.set(key, text);
    if (this.texts.size > 20) this.texts.delete(this.texts.keys().next().value!);
    return vscode.Uri.from({ scheme: ReloadDiffDocuments.scheme, path: key });
  }
}

export interface ReloadArgs {
  uri?: vscode.Uri;
  /** 0-based line inside the function (the CodeLens passes its def line) */
  line?: number;
  /** the process the CodeLens was computed for */
  pid?: number;
}

async function sessionFor(deps: ReloadDeps, file: string, pid?: number): Promise<Session | undefined> {
  const byPid = pid === undefined ? undefined : deps.sessions.live.find((s) => s.pid === pid);
  return byPid ?? deps.sessions.resolve( { purpose: 'reload', file,
    placeHolder: vscode.l10n.t('Reload the function in which process?') });
}

/**
 * Reload This Function: plan (nothing changes), show the diff of the code running now against the
 * editor's text (saved or not), confirm (modal), swap; then offer to watch the function.
 */
export async function reloadFromEditor(deps: ReloadDeps, args: ReloadArgs = {}): Promise<void> {
  const document = args.uri ? await vscode.workspace.openTextDocument(args.uri) : vscode.window.activeTextEditor?.document;
  if (!document || document.languageId !== 'python') {
    void vscode.window.showWarningMessage(vscode.l10n.t('Open the Python file and put the cursor inside the function to reload.'));
    return;
  }
  const position = args.line !== undefined ? new vscode.Position(args.line, 0)
    : vscode.window.activeTextEditor?.document === document ? vscode.window.activeTextEditor.selection.active : undefined;
  if (!position) return;
  const session = await sessionFor(deps, document.uri.fsPath, args.pid);
  if (!session) return;
  try {
    const target = await editorTarget(session, document, position);
    if (!target) {
      void vscode.window.showWarningMessage(vscode.l10n.t('The cursor is not inside a function. Put it inside the def you want to reload.'));
      return;
    }
    if (target.function.nested) {
      void vscode.window.showWarningMessage(vscode.l10n.t('{0} is defined inside {1}: reload swaps module functions and methods. Reload {1} instead; '
        + 'it makes a new {0} each time it runs.', target.function.nested, target.function.method));
      return;
    }
    const params: ReloadParams = { module: target.module, class: target.function.class, function: target.function.method,
      text: document.getText(), oldTexts: deps.snapshots.of(document.uri) };
    const name = functionLabel(params);
    const plan = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Comparing {0} with process {1}…', name, session.pid) },
      () => session.call('reloadPlan', params));
    if (!plan.ok) {
      void vscode.window.showWarningMessage(plainText(vscode.l10n.t('Cannot reload {0}: {1} Nothing changed in process {2}.', name, plan.error ?? '', session.pid)));
      return;
    }
    if (!plan.changed) {
      void vscode.window.showInformationMessage(vscode.l10n.t('{0} is unchanged: the editor\'s text compiles to the code process {1} runs.', name, session.pid));
      return;
    }
    const old = plan.oldSource ?? vscode.l10n.t('# The source of the code process {0} runs now is not known: the file changed since\n'
      + '# it was loaded and no earlier text compiles to it (Python keeps only bytecode).\n', session.pid);
    const fileName = document.uri.path.split('/').pop() ?? 'source.py';
    await vscode.commands.executeCommand('vscode.diff', deps.diffDocuments.add(`running/${fileName}`, old),
      deps.diffDocuments.add(`editor/${fileName}`, plan.newSource ?? ''),
      vscode.l10n.t('{0}: running in {1} ↔ editor', name, session.pid), { preview: true, preserveFocus: false });
    const reload: vscode.MessageItem = { title: vscode.l10n.t('Reload') };
    const cancel: vscode.MessageItem = { title: vscode.l10n.t('Cancel'), isCloseAffordance: true };
    const choice = await vscode.window.showWarningMessage(vscode.l10n.t('Reload {0} in process {1}?', name, session.pid),
      { modal: true, detail: [...(plan.warnings ?? []).map((w) => `⚠ ${w}`), RELOAD_LIMITS].join('\n\n') }, cancel, reload);
    if (choice !== reload) return;
    const result = await session.call('reloadApply', { module: params.module, class: params.class, function: params.function, text: params.text });
    deps.log.info(`reload in ${session.pid}: ${reloadText(result, params)}`);
    deps.afterReload(document);
    await vscode.window.showTextDocument(document, { selection: new vscode.Range(position, position), preview: false });
    const watch = vscode.l10n.t('Watch It');
    const picked = await vscode.window.showInformationMessage(vscode.l10n.t('Reloaded {0} in process {1}: calls from now on run the new code.', name, session.pid), watch);
    if (picked === watch) await vscode.commands.executeCommand(CommandId.watchThisFunction, document.uri);
  } catch (error) {
    await showError(deps.log, 'reload', error);
  }
}
