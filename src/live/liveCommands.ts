import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import type { Logger } from '../common/logger';
import { showError } from '../common/showError';
import type { SessionManager } from '../session/sessionManager';
import { confirmCodeExecution } from './codeConsent';
import { openConsoleTerminal } from './consoleTerminal';
import { askExpression, evaluateIn } from './evaluateCommand';
import { openProfilerTerminal } from './profilerTerminal';
import { ReloadCodeLens } from './reloadCodeLens';
import { reloadFromEditor, ReloadDiffDocuments, type ReloadArgs } from './reloadCommand';
import { SourceSnapshots } from './sourceSnapshots';

export interface LiveDeps {
  log: Logger;
  sessions: SessionManager;
}

/** Console, Evaluate, Reload and the PyFlight Terminal: code that runs inside the target. */
export function registerLiveCommands(context: vscode.ExtensionContext, deps: LiveDeps): void {
  const pick = (purpose: string, placeHolder: string, file?: string) =>
    deps.sessions.resolve( { purpose, placeHolder, file });
  const evaluateOutput = vscode.window.createOutputChannel('PyFlight Evaluate');
  const snapshots = new SourceSnapshots();
  const diffDocuments = new ReloadDiffDocuments();
  const lens = new ReloadCodeLens(deps.sessions, deps.log);
  const evaluate = async (fromSelection: boolean) => {
    const file = vscode.window.activeTextEditor?.document.uri.scheme === 'file' ? vscode.window.activeTextEditor.document.uri.fsPath : undefined;
    const session = await pick('evaluate', vscode.l10n.t('Evaluate in which process?'), fromSelection ? file : undefined);
    if (!session) return;
    const expression = await askExpression(fromSelection);
    if (expression !== undefined) await evaluateIn(session, expression, deps.log, evaluateOutput);
  };
  context.subscriptions.push(evaluateOutput, snapshots, lens,
    vscode.workspace.registerTextDocumentContentProvider(ReloadDiffDocuments.scheme, diffDocuments),
    vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, lens),
    vscode.commands.registerCommand(CommandId.openConsole, async () => {
      const session = await pick('console', vscode.l10n.t('Open a console in which process?'));
      if (!session) return;
      try {
        if (!(await confirmCodeExecution(session, vscode.l10n.t('The console')))) return;
        await session.loadAgent();
        openConsoleTerminal(session);
      } catch (error) {
        await showError(deps.log, 'console', error);
      }
    }),
    vscode.commands.registerCommand(CommandId.evaluate, () => evaluate(false)),
    vscode.commands.registerCommand(CommandId.evaluateSelection, () => evaluate(true)),
    vscode.commands.registerCommand(CommandId.reloadThisFunction, (args?: ReloadArgs | vscode.Uri) =>
      reloadFromEditor({ ...deps, snapshots, diffDocuments, afterReload: (d) => void lens.refresh(d) }, args instanceof vscode.Uri ? { uri: args } : args)),
    vscode.commands.registerCommand(CommandId.openProfilerTerminal, async () => {
      const session = await pick('terminal', vscode.l10n.t('Open flight-profiler\'s CLI on which process?'));
      if (!session) return;
      try {
        await openProfilerTerminal(session);
      } catch (error) {
        await showError(deps.log, 'PyFlight Terminal', error);
      }
    }),
  );
}
