import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import { sessionStatusText } from '../session/sessionText';
import { profileRowLabel, type KeptProfile, type ProfileOwner, type ProfileStore } from '../profile/profileStore';
import type { Session, SessionState } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import type { WorkerGroup } from '../session/workerGroup';
import { agentWhere } from '../protocol/helper';
import { capabilityLines } from '../preflight/capabilities';

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

/** The agent in the session's process refuses code (loaded with pyflight.agent.allowCode false or --no-code). */
function codeOff(s: Session): boolean {
  return s.attachResult?.allowCode === false;
}

/** A session row of the Sessions view: the argument of commands run on it (Show Stacks, Detach, …). */
export type SessionNode = { kind: 'session'; session: Session; /** The master, when shown under its worker group. */ group?: number };
/** The workers of one pre-fork master, attached together (Detach All Workers runs on it). */
export type WorkerGroupNode = { kind: 'group'; group: WorkerGroup };
/** A kept CPU profile under its session or worker group: click reopens it; Export / Delete run on it. */
export type ProfileNode = { kind: 'profile'; profile: KeptProfile };
type Node = SessionNode | WorkerGroupNode | ProfileNode | { kind: 'info'; label: string; description?: string; tooltip?: string; icon: string };

/** Sessions view: one node per attached process, with its pid, interpreter and Python version. */
export class SessionsView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: { dispose(): void };

  private readonly profileSubscription: { dispose(): void } | undefined;

  constructor(private readonly sessions: SessionManager, private readonly profiles?: ProfileStore) {
    this.subscription = sessions.onDidChange(() => this.changed.fire(undefined));
    this.profileSubscription = profiles?.onDidChange(() => this.changed.fire(undefined));
  }

  /** The kept profiles of a session or group, newest first. */
  private profileRows(owner: ProfileOwner): Node[] {
    return (this.profiles?.of(owner) ?? []).map((profile): Node => ({ kind: 'profile', profile }));
  }

  getChildren(node?: Node): Node[] {
    if (!node) {
      const groups = this.sessions.workerGroups;
      const grouped = (session: Session) => groups.some((g) => g.has(session));
      return [
        ...groups.map((group): Node => ({ kind: 'group', group })),
        ...this.sessions.all.filter((session) => !grouped(session)).map((session): Node => ({ kind: 'session', session })),
      ];
    }
    if (node.kind === 'group') {
      return [...node.group.workers.map((session): Node => ({ kind: 'session', session, group: node.group.masterPid })),
        ...this.profileRows({ kind: 'group', masterPid: node.group.masterPid })];
    }
    if (node.kind !== 'session') return [];
    const s = node.session;
    const rows: Node[] = this.profileRows({ kind: 'session', pid: s.pid, startedAt: s.startedAt });
    const facts = s.preflightResult?.facts;
    if (facts) rows.push({ kind: 'info', label: `PID ${s.pid}`, description: facts.argv.join(' '), tooltip: facts.argv.join(' '), icon: 'terminal' });
    if (s.hello) {
      rows.push({ kind: 'info', label: `Python ${s.hello.python.version}`, description: s.hello.python.executable,
        tooltip: `${s.hello.python.executable}\n→ ${s.hello.python.realExecutable}\nprefix ${s.hello.python.prefix}\nresolved from: ${s.preflightResult?.interpreter.source}`, icon: 'symbol-namespace' });
      const caps = s.hello.capabilities;
      if (caps) {
        // Its row of the capability table: tested here or not, and what is refused or done another way.
        const notable = Object.values(caps.features).filter((f) => f.status !== 'tested');
        rows.push({ kind: 'info', label: caps.tested ? 'tested interpreter' : 'interpreter NOT tested here',
          description: notable.length ? notable.map((f) => `${f.title}: ${f.status}`).join(' · ') : 'every feature tested',
          tooltip: capabilityLines(caps).join('\n'), icon: caps.tested ? 'pass' : 'warning' });
      }
      if (s.hello.flightProfiler.version) {
        const agent = s.attachResult ? `agent loaded · ${agentWhere(s.attachResult)}${s.attachResult.reused ? ' (reused)' : ''}${codeOff(s) ? ' · code execution off' : ''}`
          : 'agent not loaded: stacks only, nothing in the process';
        rows.push({ kind: 'info', label: `flight-profiler ${s.hello.flightProfiler.version}`, description: agent, icon: 'package' });
      }
    }
    if (s.endReason) rows.push({ kind: 'info', label: s.endReason.message, tooltip: s.endReason.hint, icon: 'warning' });
    return rows;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'group') {
      const g = node.group;
      const item = new vscode.TreeItem(g.label.replace(/ (\d+)$/, ' (pid $1)'), vscode.TreeItemCollapsibleState.Expanded);
      item.id = `group-${g.masterPid}`;
      const loaded = g.workers.filter((s) => s.agentLoaded).length;
      item.description = `${g.workers.length} workers · ${loaded ? `agent in ${loaded}` : 'read-only'} · new workers join`;
      item.tooltip = `All workers of process ${g.masterPid}, attached together; workers it starts later are attached too.`;
      item.iconPath = new vscode.ThemeIcon('layers');
      item.contextValue = 'workerGroup';
      return item;
    }
    if (node.kind === 'profile') return profileItem(node.profile);
    if (node.kind === 'info') {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
      item.description = node.description;
      item.tooltip = node.tooltip ?? node.description;
      item.iconPath = new vscode.ThemeIcon(node.icon);
      item.contextValue = 'info';
      return item;
    }
    const s = node.session;
    // Expanded once it has a profile, so the new row is seen.
    const hasProfiles = Boolean(this.profiles?.of({ kind: 'session', pid: s.pid, startedAt: s.startedAt }).length);
    const item = new vscode.TreeItem(s.label, hasProfiles ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    // A new worker is shown at the top level while it attaches, then under its group: an id of its own
    // under the group, or the tree refuses the move ("Element with id session-… is already registered").
    item.id = `${node.group !== undefined ? `group-${node.group}/` : ''}session-${s.pid}-${s.startedAt}`;
    const version = s.hello ? ` · Python ${s.hello.python.version}` : '';
    // With several sessions, the one commands act on (status bar) is marked.
    const current = this.sessions.live.length > 1 && this.sessions.current === s ? ' · current' : '';
    item.description = `${sessionStatusText(s)}${version}${codeOff(s) ? ' · code execution off' : ''}${current}`;
    item.tooltip = new vscode.MarkdownString(undefined, true);
    item.tooltip.appendText(`${s.label}\nstate: ${sessionStatusText(s)}\ninterpreter: ${s.preflightResult?.interpreter.python ?? '…'}`);
    item.iconPath = stateIcon(s.state);
    item.contextValue = `session.${s.state}`;
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.profileSubscription?.dispose();
    this.changed.dispose();
  }
}

/** "CPU profile · 12:03:44 · 2,431 samples · 10 s"; click reopens its flame graph. */
export function profileItem(p: KeptProfile): vscode.TreeItem {
  const item = new vscode.TreeItem(profileRowLabel(p), vscode.TreeItemCollapsibleState.None);
  item.id = `profile-${p.id}`;
  const top = p.profile.hot.find((h) => h.kind === 'own' || h.kind === 'library');
  item.tooltip = `${p.label}\n${profileRowLabel(p)}${top ? `\nhottest: ${top.function} (${top.selfPercent}% self)` : ''}${p.note ? `\n${p.note}` : ''}\nClick to open its flame graph.`;
  item.iconPath = new vscode.ThemeIcon('flame');
  item.contextValue = 'cpuProfile';
  item.command = { command: CommandId.openKeptProfile, title: vscode.l10n.t('Open Flame Graph'), arguments: [{ kind: 'profile', profile: p }] };
  return item;
}

/**
 * "$(plug) PyFlight: checkout.py 1234": the session commands without a file act on; click to choose
 * another. Hidden while nothing is attached.
 */
export function createSessionStatusBar(sessions: SessionManager): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('pyflight.session', vscode.StatusBarAlignment.Left, 50);
  item.name = vscode.l10n.t('PyFlight Session');
  item.command = CommandId.chooseSession;
  const update = () => {
    const live = sessions.live;
    const current = sessions.current;
    if (live.length === 0) {
      item.hide();
      return;
    }
    item.text = current ? `$(plug) PyFlight: ${scriptOf(current)} ${current.pid}` : `$(plug) PyFlight: ${vscode.l10n.t('{0} sessions', live.length)}`;
    item.tooltip = current
      ? vscode.l10n.t('PyFlight acts on {0} (when a command has no file of its own). Click to choose another process.', current.label)
      : vscode.l10n.t('{0} processes attached. Click to choose the one PyFlight commands act on.', live.length);
    item.show();
  };
  const subscription = sessions.onDidChange(update);
  update();
  return { dispose: () => { subscription.dispose(); item.dispose(); } };
}

/** "busy_service.py" from the label "busy_service.py (pid 123)". */
function scriptOf(session: Session): string {
  return session.label.replace(/ \(pid \d+\)$/, '');
}
