import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import type { Logger } from '../common/logger';
import { plainText } from '../common/plainText';
import { showError } from '../common/showError';
import type { SessionManager } from '../session/sessionManager';

/** "Show Module Name of This File": asks the target which module the editor's file is. */
export function registerModuleCommands(context: vscode.ExtensionContext, deps: { log: Logger; sessions: SessionManager }): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.resolveModule, async (uri?: vscode.Uri) => {
      const file = (uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri)?.fsPath;
      if (!file) {
        void vscode.window.showWarningMessage(vscode.l10n.t('Open a Python file first.'));
        return undefined;
      }
      const session = await deps.sessions.resolve( { purpose: 'module', file, placeHolder: vscode.l10n.t('Ask which process?') });
      if (!session) return undefined;
      try {
        const result = await session.call('module', { file });
        const copy = vscode.l10n.t('Copy');
        void vscode.window.showInformationMessage(plainText(vscode.l10n.t('In process {0}, {1} is module "{2}".', session.pid, file, result.module)), copy)
          .then((choice) => (choice === copy ? vscode.env.clipboard.writeText(result.module) : undefined));
        return result.module;
      } catch (error) {
        await showError(deps.log, `module ${file}`, error);
        return undefined;
      }
    }),
  );
}
