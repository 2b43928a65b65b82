import * as vscode from 'vscode';
import { registerAttachCommands } from './commands/attach';
import { registerModuleCommands } from './commands/module';
import { registerStackCommands } from './commands/stacks';
import { CommandId, ContextKey, ViewId } from './common/commandIds';
import { readConfig } from './common/config';
import { SessionManager } from './session/sessionManager';
import { SessionsView } from './views/sessionsView';
import { StacksView } from './views/stacksView';

let sessions: SessionManager | undefined;

/** A table of contents: logger, the session model, then one register call per capability. */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('PyFlight', { log: true });
  context.subscriptions.push(log, vscode.commands.registerCommand(CommandId.showLog, () => log.show(true)));

  sessions = new SessionManager(log, () => {
    const config = readConfig();
    return { configuredPython: config.pythonPath, attachTimeoutSeconds: config.attachTimeoutSeconds };
  });
  const manager = sessions;
  context.subscriptions.push(manager.onDidChange(() =>
    void vscode.commands.executeCommand('setContext', ContextKey.hasSession, manager.all.some((s) => s.state === 'ready'))));
  // Last resort if the host exits without deactivate(): no helper may outlive the window.
  const killAll = () => manager.killAll();
  process.once('exit', killAll);
  context.subscriptions.push({ dispose: () => process.off('exit', killAll) });

  const sessionsView = new SessionsView(manager);
  context.subscriptions.push(sessionsView, vscode.window.createTreeView(ViewId.sessions, { treeDataProvider: sessionsView }));

  registerAttachCommands(context, { log, sessions: manager });
  registerStackCommands(context, { log, sessions: manager, stacksView: new StacksView() });
  registerModuleCommands(context, { log, sessions: manager });
}

/** Detaches every session: helpers stop and turn off whatever they instrumented. */
export async function deactivate(): Promise<void> {
  await sessions?.dispose();
  sessions = undefined;
}
