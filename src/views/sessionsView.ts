import * as vscode from 'vscode';
import type { Session, SessionState } from '../session/session';
import type { SessionManager } from '../session/sessionManager';

const STATE_TEXT: Record<SessionState, string> = {
  preflight: 'checking…',
  starting: 'starting helper…',
  attaching: 'attaching…',
  ready: 'attached',
  detaching: 'detaching…',
  detached: 'detached',
  failed: 'attach failed',
  targetExited: 'process exited',
  helperCrashed: 'helper crashed',
};

function stateIcon(state: SessionState): vscode.ThemeIcon {
  switch (state) {
    case 'ready':
      return new vscode.ThemeIcon('debug-alt', new vscode.ThemeColor('debugIcon.startForeground'));
    case 'targetExited':
    case 'helperCrashed':
    case 'failed':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
    case 'detached':
      return new vscode.ThemeIcon('debug-disconnect');
    default:
      return new vscode.ThemeIcon('loading~spin');
  }
}

type Node = { kind: 'session'; session: Session } | { kind: 'info'; label: string; description?: string; tooltip?: string; icon: string };

/** Sessions view: one node per attached process, with its pid, interpreter and Python version. */
export class SessionsView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: { dispose(): void };

  constructor(private readonly sessions: SessionManager) {
    this.subscription = sessions.onDidChange(() => this.changed.fire(undefined));
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.sessions.all.map((session) => ({ kind: 'session', session }));
    if (node.kind !== 'session') return [];
    const s = node.session;
    const rows: Node[] = [];
    const facts = s.preflightResult?.facts;
    if (facts) rows.push({ kind: 'info', label: `PID ${s.pid}`, description: facts.argv.join(' '), tooltip: facts.argv.join(' '), icon: 'terminal' });
    if (s.hello) {
      rows.push({ kind: 'info', label: `Python ${s.hello.python.version}`, description: s.hello.python.executable,
        tooltip: `${s.hello.python.executable}\n→ ${s.hello.python.realExecutable}\nprefix ${s.hello.python.prefix}\nresolved from: ${s.preflightResult?.interpreter.source}`, icon: 'symbol-namespace' });
      if (s.hello.flightProfiler.version) {
        const agent = s.attachResult ? `agent loaded · 127.0.0.1:${s.attachResult.port}${s.attachResult.reused ? ' (reused)' : ''}`
          : 'agent not loaded: stacks only, nothing in the process';
        rows.push({ kind: 'info', label: `flight-profiler ${s.hello.flightProfiler.version}`, description: agent, icon: 'package' });
      }
    }
    if (s.endReason) rows.push({ kind: 'info', label: s.endReason.message, tooltip: s.endReason.hint, icon: 'warning' });
    return rows;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'info') {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
      item.description = node.description;
      item.tooltip = node.tooltip ?? node.description;
      item.iconPath = new vscode.ThemeIcon(node.icon);
      item.contextValue = 'info';
      return item;
    }
    const s = node.session;
    const item = new vscode.TreeItem(s.label, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `session-${s.pid}-${s.startedAt}`;
    const version = s.hello ? ` · Python ${s.hello.python.version}` : '';
    const agent = s.state === 'ready' ? (s.agentLoaded ? ' · agent loaded' : ' · read-only') : '';
    item.description = `${STATE_TEXT[s.state]}${agent}${version}`;
    item.tooltip = new vscode.MarkdownString(undefined, true);
    item.tooltip.appendText(`${s.label}\nstate: ${STATE_TEXT[s.state]}\ninterpreter: ${s.preflightResult?.interpreter.python ?? '…'}`);
    item.iconPath = stateIcon(s.state);
    item.contextValue = `session.${s.state}`;
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
