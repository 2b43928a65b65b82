import * as vscode from 'vscode';
import { confirmAgentLoad } from './commands/agentConsent';
import { readyReader } from './preflight/readerVenv';
import { registerAttachCommands, sessionChooser } from './commands/attach';
import { registerModuleCommands } from './commands/module';
import { registerProbeCommands } from './commands/probes';
import { registerStackCommands } from './commands/stacks';
import { CommandId, ContextKey, ViewId } from './common/commandIds';
import { setting } from './common/config';
import { createProbeStatusBar, ProbeCodeLens } from './probes/probeCodeLens';
import { ProbeStore } from './probes/probeStore';
import { registerMemoryCommands } from './memory/memoryCommands';
import { registerGilCommands } from './gil/gilCommands';
import { registerInspectCommands } from './inspect/inspectCommands';
import { registerDiagnoseChat } from './diagnose/chatParticipant';
import { registerLiveCommands } from './live/liveCommands';
import { registerLanguageModelTools } from './lmTools/registerTools';
import { registerProfileCommands } from './profile/profileCommands';
import { registerTorchCommands } from './torch/torchCommands';
import { ProfileEditorHeat, toggleProfileHeat } from './profile/profileEditor';
import { ProfileStore } from './profile/profileStore';
import { SessionManager } from './session/sessionManager';
import { createSessionStatusBar, SessionsView } from './views/sessionsView';
import { StacksView } from './views/stacksView';
import { TimeTunnelView } from './views/timeTunnelView';
import { TraceView } from './views/traceView';
import { WatchView } from './views/watchView';

let sessions: SessionManager | undefined;

/** A table of contents: logger, the session model, then one register call per capability. */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('PyFlight', { log: true });
  context.subscriptions.push(log, vscode.commands.registerCommand(CommandId.showLog, () => log.show(true)));

  sessions = new SessionManager(log, () => ({
    configuredPython: setting('pythonPath'), attachTimeoutSeconds: setting('attachTimeoutSeconds'),
    allowCode: setting('agent.allowCode'), confirmAgentLoad,
    // A reader the user chose to build for that interpreter (attach.ts: Read from Outside) is used from then on.
    readerFor: (_session, python) => readyReader(python),
  }), sessionChooser);
  const manager = sessions;
  context.subscriptions.push(manager.onDidChange(() =>
    void vscode.commands.executeCommand('setContext', ContextKey.hasSession, manager.all.some((s) => s.state === 'ready'))));
  // Last resort if the host exits without deactivate(): helpers see their stdin close, turn their
  // probes off and exit (the OS closes the pipes anyway; this makes it explicit).
  const releaseAll = () => manager.releaseAll();
  process.once('exit', releaseAll);
  context.subscriptions.push({ dispose: () => process.off('exit', releaseAll) });

  // CPU profiles of this window (bounded: 10 per session or worker group, 50 in all).
  const profiles = new ProfileStore();
  const sessionsView = new SessionsView(manager, profiles);
  const sessionsTree = vscode.window.createTreeView(ViewId.sessions, { treeDataProvider: sessionsView });
  context.subscriptions.push(sessionsView, sessionsTree, createSessionStatusBar(manager),
    // Selecting a session in the view is choosing it: commands without a file act on it.
    sessionsTree.onDidChangeSelection(({ selection }) => {
      const node = selection[0];
      if (node?.kind === 'session' && node.session.state === 'ready') manager.choose(node.session);
    }));

  registerAttachCommands(context, { log, sessions: manager });
  registerStackCommands(context, { log, sessions: manager, stacksView: new StacksView() });
  registerModuleCommands(context, { log, sessions: manager });

  const store = new ProbeStore(() => setting('watch.maxRecords'));
  // Every probe of every session, whoever started it (commands, chat, a diagnosis).
  context.subscriptions.push(store.follow(manager));
  const watchView = new WatchView(store);
  const traceView = new TraceView(store);
  const timeTunnelView = new TimeTunnelView(store);
  const codeLens = new ProbeCodeLens(store);
  context.subscriptions.push(
    store, watchView, traceView, timeTunnelView, codeLens,
    vscode.window.createTreeView(ViewId.watch, { treeDataProvider: watchView }),
    vscode.window.createTreeView(ViewId.trace, { treeDataProvider: traceView, showCollapseAll: true }),
    vscode.window.createTreeView(ViewId.timeTunnel, { treeDataProvider: timeTunnelView }),
    vscode.languages.registerCodeLensProvider({ language: 'python' }, codeLens),
    createProbeStatusBar(store),
  );
  const heat = new ProfileEditorHeat(profiles);
  context.subscriptions.push(profiles, heat,
    vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, heat),
    vscode.commands.registerCommand(CommandId.toggleProfileHeat, toggleProfileHeat));
  registerProfileCommands(context, { log, sessions: manager, extensionUri: context.extensionUri, store: profiles, heat });
  registerMemoryCommands(context, { log, sessions: manager, extensionUri: context.extensionUri });
  registerProbeCommands(context, { log, sessions: manager, store, timeTunnelView });
  registerGilCommands(context, { log, sessions: manager });
  registerTorchCommands(context, { log, sessions: manager, storageDir: context.globalStorageUri.fsPath, extensionUri: context.extensionUri });
  registerDiagnoseChat(context, { log, sessions: manager, profiles });
  registerInspectCommands(context, { log, sessions: manager });
  registerLiveCommands(context, { log, sessions: manager });
  registerLanguageModelTools(context, { log, sessions: manager });
}

/** Detaches every session: helpers stop and turn off whatever they instrumented. */
export async function deactivate(): Promise<void> {
  await sessions?.dispose();
  sessions = undefined;
}
