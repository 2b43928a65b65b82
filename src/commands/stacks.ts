import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../common/atomicWrite';
import { CommandId, ContextKey, ViewId } from '../common/commandIds';
import { setting } from '../common/config';
import type { Logger } from '../common/logger';
import { showError } from '../common/showError';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import { nodeText, type StackNode, type StacksView } from '../views/stacksView';
import type { TtNode } from '../views/timeTunnelView';
import type { WatchNode } from '../views/watchView';
import type { SessionNode } from '../views/sessionsView';
import type { ShowStacksOptions } from './attach';
import { formatStacks } from '../format/stackFormat';

export interface StackDeps {
  log: Logger;
  sessions: SessionManager;
  stacksView: StacksView;
}

type Mode = { native?: boolean; async?: boolean };

/** Menus pass (node, selected nodes); attach passes (node, ShowStacksOptions). */
function showOptions(arg: unknown): ShowStacksOptions {
  return arg && typeof arg === 'object' && !Array.isArray(arg) ? (arg as ShowStacksOptions) : {};
}

async function showStacks(deps: StackDeps, mode: Mode, node?: SessionNode, onScreen?: Session, options: ShowStacksOptions = {}): Promise<void> {
  // Show Stacks on a session is choosing it; from the palette the one rule decides.
  if (node) deps.sessions.choose(node.session);
  const session = node?.session ?? onScreen
    ?? (await deps.sessions.resolve( { purpose: 'stacks', placeHolder: vscode.l10n.t('Show stacks of which process?') }));
  if (!session) return;
  lastMode = mode;
  lastSession = session;
  try {
    const result = await vscode.window.withProgress(
      { location: { viewId: ViewId.stacks }, title: vscode.l10n.t('Reading stacks of {0}', session.label), cancellable: true },
      (_progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return session.call('stack', { ...mode, includeAgentThreads: setting('stacks.showAgentThreads') }, { signal: abort.signal });
      },
    );
    const when = new Date(result.capturedAt).toLocaleTimeString();
    deps.stacksView.setResult(result, `${session.label} · ${when}${mode.native ? ' · native' : ''}`, setting('stacks.showStdlibFrames'));
    await vscode.commands.executeCommand('setContext', ContextKey.hasStacks, true);
    if (!options.preserveFocus) await vscode.commands.executeCommand(`${ViewId.stacks}.focus`);
  } catch (error) {
    const shown = showError(deps.log, `stack ${session.pid}`, error);
    if (!options.dontAwaitErrors) await shown;
  }
}

let lastMode: Mode = {};
let lastSession: Session | undefined;

async function exportStacks(deps: StackDeps): Promise<void> {
  const result = deps.stacksView.result;
  if (!result) return;
  const stamp = new Date(result.capturedAt).toISOString().replace(/[:.]/g, '-');
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(folder, `stacks-${result.pid}-${stamp}.txt`)),
    filters: { [vscode.l10n.t('Text')]: ['txt'], JSON: ['json'] },
    saveLabel: vscode.l10n.t('Export Stacks'),
  });
  if (!target) return;
  try {
    const content = target.fsPath.endsWith('.json') ? JSON.stringify(result, null, 2) + '\n' : formatStacks(result);
    await writeFileAtomic(target.fsPath, content);
    deps.log.info(`exported stacks of ${result.pid} to ${target.fsPath}`);
    const open = vscode.l10n.t('Open');
    if ((await vscode.window.showInformationMessage(vscode.l10n.t('Stacks saved to {0}', target.fsPath), open)) === open) {
      await vscode.window.showTextDocument(target);
    }
  } catch (error) {
    await showError(deps.log, 'export stacks', error);
  }
}

/** What "Copy" is offered on (package.json menus): Stacks threads/frames, Watch calls, Watch and Time Tunnel values. */
type CopyNode = StackNode | WatchNode | TtNode;

function copyText(node: CopyNode | undefined): string | undefined {
  switch (node?.kind) {
    case 'value':
    case 'line':
      return node.text;
    case 'record':
      return 'exception' in node.record ? (node.record.exception ?? node.record.value ?? undefined) : undefined;
    case 'thread':
    case 'frame':
    case 'group':
      return nodeText(node);
    default:
      return undefined;
  }
}

export function registerStackCommands(context: vscode.ExtensionContext, deps: StackDeps): void {
  const treeView = vscode.window.createTreeView(ViewId.stacks, { treeDataProvider: deps.stacksView, showCollapseAll: true });
  context.subscriptions.push(
    treeView,
    deps.stacksView,
    deps.stacksView.onDidChangeTreeData(() => { treeView.description = deps.stacksView.label; }),
    // Stacks of a process we are no longer attached to stay readable (post-mortem) but say so.
    deps.sessions.onDidChange(() => {
      const pid = deps.stacksView.result?.pid;
      if (pid === undefined) return;
      const live = deps.sessions.get(pid)?.state === 'ready';
      treeView.description = live ? deps.stacksView.label : `${deps.stacksView.label} · not attached`;
    }),
    vscode.commands.registerCommand(CommandId.showStacks, (node?: SessionNode, options?: unknown) => showStacks(deps, {}, node, undefined, showOptions(options))),
    vscode.commands.registerCommand(CommandId.showStacksNative, (node?: SessionNode) => showStacks(deps, { native: true }, node)),
    vscode.commands.registerCommand(CommandId.showAsyncTasks, (node?: SessionNode) => showStacks(deps, { async: true }, node)),
    // Refresh re-reads the process on screen (not "the" session, which may have changed since).
    vscode.commands.registerCommand(CommandId.refreshStacks, () => (lastSession && lastSession.state === 'ready'
      ? showStacks(deps, lastMode, undefined, lastSession) : showStacks(deps, lastMode))),
    vscode.commands.registerCommand(CommandId.exportStacks, () => exportStacks(deps)),
    vscode.commands.registerCommand(CommandId.copyValue, async (node?: CopyNode) => {
      const text = copyText(node);
      if (text) await vscode.env.clipboard.writeText(text);
    }),
  );
}
