import * as vscode from 'vscode';
import type { Logger } from '../common/logger';
import { plainText } from '../common/plainText';
import { showError } from '../common/showError';
import type { Session } from '../session/session';
import { confirmCodeExecution } from './codeConsent';
import { evalSummary, evalText } from './liveText';

let lastExpression = '';

/** The expression: the editor's selection when there is one (and asked for), else an input box. */
export async function askExpression(fromSelection: boolean): Promise<string | undefined> {
  const editor = vscode.window.activeTextEditor;
  const selected = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : '';
  if (fromSelection && selected.trim()) return selected;
  const typed = await vscode.window.showInputBox({
    title: vscode.l10n.t('PyFlight: Evaluate in Process'),
    prompt: vscode.l10n.t('A Python expression (or statements), run once inside the process; e.g. len(cache) or import app; app.settings.DEBUG'),
    value: selected.trim() || lastExpression,
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : vscode.l10n.t('Type an expression.')),
  });
  if (typed !== undefined) lastExpression = typed;
  return typed;
}

/**
 * Runs it (after the once-per-process consent) with progress and cancel (cancel interrupts it in the
 * target), shows the value or the exception in a notification with Copy, the full text in the log.
 */
export async function evaluateIn(session: Session, expression: string, log: Logger, output: vscode.OutputChannel): Promise<void> {
  try {
    if (!(await confirmCodeExecution(session, vscode.l10n.t('Evaluate'), expression))) return;
    // Progress (with Cancel, which interrupts it in the target) only when it takes a while: a
    // progress toast for a quick answer stayed on screen next to the answer.
    const abort = new AbortController();
    const running = session.call('eval', { expression }, { signal: abort.signal });
    const quick = await Promise.race([running.then(() => true, () => true), new Promise<false>((r) => setTimeout(() => r(false), 700))]);
    const result = quick ? await running : await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification,
      cancellable: true, title: vscode.l10n.t('Evaluating in process {0}…', session.pid) }, (_progress, token) => {
      token.onCancellationRequested(() => abort.abort());
      return running;
    });
    const text = plainText(evalText(result));
    output.appendLine(`── pid ${session.pid} ── ${expression.split('\n')[0]}${expression.includes('\n') ? ' …' : ''}`);
    output.appendLine(text || (result.ok ? '(no value)' : ''));
    log.info(`evaluate in ${session.pid}: ${result.ok ? 'ok' : result.kind}`);
    const copy = vscode.l10n.t('Copy');
    const show = vscode.l10n.t('Show Output');
    const summary = plainText(evalSummary(result));
    const choice = result.ok
      ? await vscode.window.showInformationMessage(vscode.l10n.t('Process {0}: {1}', session.pid, summary), copy, show)
      : await vscode.window.showWarningMessage(result.kind === 'syntax'
        ? vscode.l10n.t('Not valid Python (nothing ran): {0}', summary)
        : vscode.l10n.t('Raised in process {0}: {1}', session.pid, summary), copy, show);
    if (choice === copy) await vscode.env.clipboard.writeText(result.ok ? (result.value ?? '') : (result.error ?? ''));
    if (choice === show) output.show(true);
  } catch (error) {
    await showError(log, 'evaluate', error);
  }
}
