import * as vscode from 'vscode';
import { deathText, firstDeathNotice } from '../session/targetDeath';
import { CommandId, ViewId } from '../common/commandIds';
import { setting } from '../common/config';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { plainText } from '../common/plainText';
import { showError } from '../common/showError';
import { endText, recordNoun } from '../format/probeText';
import { formatProbeOptions, parseProbeOptions } from '../probes/probeOptions';
import { PROBE_METHODS, probeKind, type ProbeMethod, type ProbeParams } from '../probes/probeKinds';
import type { ProbeEntry, ProbeStore } from '../probes/probeStore';
import { editorTarget, sourceOf } from '../probes/probeTarget';
import type { Probe, SourceLocation } from '../session/probe';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import type { WorkerGroup } from '../session/workerGroup';
import type { WorkersNode } from '../views/probeEntryItem';
import type { TimeTunnelView, TtNode } from '../views/timeTunnelView';
import { confirmAgentLoadForWorkers } from './agentConsent';

export interface ProbeDeps {
  log: Logger;
  sessions: SessionManager;
  store: ProbeStore;
  timeTunnelView: TimeTunnelView;
}

/** Failures the user fixes by editing the options (as opposed to the process going away). */
const OPTION_ERRORS = new Set<string>([ErrorCode.BadLocation, ErrorCode.BadExpression, ErrorCode.BadArgument]);

/** A view row that stands for one probe (Watch, Trace, Time Tunnel root rows). */
export interface ProbeEntryNode {
  kind: 'entry';
  entry: ProbeEntry;
}

/** A Time Tunnel call row, as its context menu commands (replay, delete) receive it. */
type TtRecordNode = Extract<TtNode, { kind: 'record' }>;

async function sessionForProbe(deps: ProbeDeps, file?: string): Promise<Session | undefined> {
  return deps.sessions.resolve( { purpose: 'probe', file, placeHolder: vscode.l10n.t('Instrument which process?') });
}

/**
 * For a worker of a server attached as a group (watch and trace): all workers, or this one only?
 * `undefined` when the user cancelled.
 */
async function chooseWorkers(deps: ProbeDeps, session: Session, method: ProbeMethod): Promise<{ group?: WorkerGroup } | undefined> {
  const group = deps.sessions.groupOf(session);
  if (!group || group.workers.length < 2 || method === 'ttRecord') return {};
  const all = { label: vscode.l10n.t('$(layers) All {0} workers of {1}', group.workers.length, group.label), description: vscode.l10n.t('workers started later get it too'), group };
  const one = { label: vscode.l10n.t('$(symbol-method) Only worker {0}', session.pid), group: undefined };
  const picked = await vscode.window.showQuickPick([all, one], { title: vscode.l10n.t('PyFlight: {0}', probeKind(method).title), placeHolder: vscode.l10n.t('In which processes?') });
  return picked ? { group: picked.group } : undefined;
}

/** Shows the options in an input box (validated as typed), then starts the probe. */
async function confirmAndStart<M extends ProbeMethod>(deps: ProbeDeps, session: Session, method: M, initial: string,
  source?: SourceLocation): Promise<Probe<M> | undefined> {
  const kind = probeKind(method);
  const where = await chooseWorkers(deps, session, method);
  if (!where) return undefined;
  const text = await vscode.window.showInputBox({
    title: where.group ? vscode.l10n.t('PyFlight: {0} in all {1} workers of {2}', kind.title, where.group.workers.length, where.group.label)
      : vscode.l10n.t('PyFlight: {0} in process {1}', kind.title, session.pid),
    prompt: vscode.l10n.t(kind.prompt),
    value: initial,
    valueSelection: [initial.length, initial.length],
    ignoreFocusOut: true,
    validateInput: (value) => {
      try {
        parseProbeOptions(method, value);
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    },
  });
  if (text === undefined) return undefined;
  const params = parseProbeOptions(method, text);
  if (where.group) {
    await startOnWorkers(deps, where.group, method, params, source);
    return undefined;
  }
  return startProbe(deps, session, method, params, source ?? (await sourceOf(session, params)), text);
}

/** One probe on every worker of a group (one consent for all of them); the views merge them. */
async function startOnWorkers<M extends ProbeMethod>(deps: ProbeDeps, group: WorkerGroup, method: M, params: ProbeParams<M>,
  source?: SourceLocation): Promise<void> {
  if (group.workers.some((s) => !s.agentLoaded) && !(await confirmAgentLoadForWorkers(group))) return;
  group.approveAgentLoad();
  const kind = probeKind(method);
  const probes = group.startProbe(method, params, { source });
  void vscode.commands.executeCommand(`${kind.viewId}.focus`);
  deps.log.info(`${kind.name} ${formatProbeOptions(method, params)} on all workers of ${group.label}: started`);
  void probes.done.then(() => deps.log.info(`${kind.name} on all workers of ${group.label}: ended (${probes.count} records)`));
}

/**
 * Starts a probe from a command. The ProbeStore hears of it from the session (it follows the
 * SessionManager), like any probe; this adds what only a command does: reveal the view, the end
 * message, and "Edit Options…" when what was typed was wrong.
 */
export function startProbe<M extends ProbeMethod>(deps: ProbeDeps, session: Session, method: M, params: ProbeParams<M>,
  source?: SourceLocation, typed?: string): Probe<M> {
  const kind = probeKind(method);
  const probe = session.startProbe(method, params, { source });
  void vscode.commands.executeCommand(`${kind.viewId}.focus`);
  deps.log.info(`${kind.name} ${probe.location} in ${session.pid}: started`);
  probe.done.then(
    (summary) => {
      const ended = endText(summary, recordNoun(method, params));
      deps.log.info(`${kind.name} ${probe.location} in ${session.pid}: ${ended}`);
      if (summary.reason === 'exited') {
        // The process died while probed: a warning, not a status-bar line (it may have crashed).
        void session.checkDeath().then((death) => void (firstDeathNotice(session) && vscode.window.showWarningMessage(
          `PyFlight: ${capitalized(deathText(session.pid, death ?? {}, `${kind.name} ${probe.location}`))}.`)));
      } else if (summary.reason !== 'stopped') {
        vscode.window.setStatusBarMessage(vscode.l10n.t('PyFlight: {0} {1}: {2}', kind.name, probe.location, ended), 8000);
      }
    },
    async (error: unknown) => {
      const failure = PyFlightError.from(error);
      if (failure.code === ErrorCode.HelperCrashed || failure.code === ErrorCode.Cancelled) return;
      if (!OPTION_ERRORS.has(failure.code) || probe.agentArgs) {
        await showError(deps.log, `${kind.name} ${probe.location}`, failure);
        return;
      }
      // Nothing was installed: drop the attempt from the view and let the user fix what they typed.
      const entry = deps.store.entryOf(probe);
      if (entry) deps.store.remove(entry.anyKind);
      const edit = vscode.l10n.t('Edit Options…');
      if ((await showError(deps.log, `${kind.name} ${probe.location}`, failure, edit)) === edit && session.state === 'ready') {
        await confirmAndStart(deps, session, method, typed ?? formatProbeOptions(method, params), source);
      }
    },
  );
  return probe;
}

async function fromEditor<M extends ProbeMethod>(deps: ProbeDeps, method: M, uri?: vscode.Uri): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || (uri && editor.document.uri.toString() !== uri.toString())) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Put the cursor inside a Python function first.'));
    return;
  }
  const session = await sessionForProbe(deps, editor.document.uri.fsPath);
  if (!session) return;
  try {
    const target = await editorTarget(session, editor.document, editor.selection.active);
    if (!target) {
      void vscode.window.showWarningMessage(vscode.l10n.t('The cursor is not inside a function. Put it inside the def you want to instrument.'));
      return;
    }
    const kind = probeKind(method);
    const initial = formatProbeOptions(method, kind.atLocation({ module: target.module, class: target.function.class,
      method: target.function.method, nested: target.function.nested, limit: setting(kind.limitSetting) }));
    await confirmAndStart(deps, session, method, initial, target.function.nested ? undefined : target.source);
  } catch (error) {
    await showError(deps.log, `${probeKind(method).name} from editor`, error);
  }
}

async function fromPalette(deps: ProbeDeps, method: ProbeMethod): Promise<void> {
  const session = await sessionForProbe(deps);
  if (session) await confirmAndStart(deps, session, method, '');
}

export function registerProbeCommands(context: vscode.ExtensionContext, deps: ProbeDeps): void {
  for (const method of PROBE_METHODS) {
    const { commands } = probeKind(method);
    context.subscriptions.push(
      vscode.commands.registerCommand(commands.here, (uri?: unknown) => fromEditor(deps, method, uri instanceof vscode.Uri ? uri : undefined)),
      vscode.commands.registerCommand(commands.ask, () => fromPalette(deps, method)),
      vscode.commands.registerCommand(commands.clear, () => deps.store.clear(method)),
    );
  }
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.stopProbe, (node?: ProbeEntryNode | WorkersNode<ProbeMethod>) => {
      if (node?.kind === 'workers') for (const entry of node.entries) entry.probe.stop();
      else node?.entry.probe.stop();
    }),
    vscode.commands.registerCommand(CommandId.restartProbe, async (node?: ProbeEntryNode) => {
      if (!node) return;
      const { entry } = node;
      if (entry.session.state !== 'ready') {
        void vscode.window.showWarningMessage(vscode.l10n.t('Process {0} is no longer attached.', entry.session.pid));
        return;
      }
      entry.probe.stop();
      await entry.probe.done.catch(() => undefined);
      restart(deps, entry);
    }),
    vscode.commands.registerCommand(CommandId.stopAllProbes, () => { for (const e of deps.store.active) e.probe.stop(); }),
    vscode.commands.registerCommand(CommandId.showProbes, () => showProbes(deps)),
    vscode.commands.registerCommand(CommandId.ttReplay, (node?: TtRecordNode) => replay(deps, node)),
    vscode.commands.registerCommand(CommandId.ttDelete, async (node?: TtRecordNode) => {
      if (!node) return;
      try {
        await node.entry.session.call('ttDelete', { index: node.record.index });
        deps.timeTunnelView.markDeleted(node.entry, node.record.index);
      } catch (error) {
        await showError(deps.log, 'tt delete', error);
      }
    }),
  );
}

/** Starts the same probe again, same params and source (`ProbeEntry<M>` keeps method and params paired). */
function restart<M extends ProbeMethod>(deps: ProbeDeps, entry: ProbeEntry<M>): void {
  startProbe(deps, entry.session, entry.probe.method, entry.probe.params, entry.source);
}

async function replay(deps: ProbeDeps, node?: TtRecordNode): Promise<void> {
  if (!node) return;
  try {
    node.entry.session.requireCodeExecution('Replay');
  } catch (error) {
    await showError(deps.log, 'tt replay', error);
    return;
  }
  const go = vscode.l10n.t('Replay');
  // Cancel first: it is the default button, so Enter does not re-run a call with side effects.
  const cancel: vscode.MessageItem = { title: vscode.l10n.t('Cancel'), isCloseAffordance: true };
  const replayItem: vscode.MessageItem = { title: go };
  const choice = await vscode.window.showWarningMessage(
    vscode.l10n.t('Replay call #{0} of {1} inside process {2}?', node.record.index, node.entry.probe.location, node.entry.session.pid),
    { modal: true, detail: vscode.l10n.t('The function runs again in the live process with the recorded arguments, side effects included (database writes, payments, messages…).') },
    cancel, replayItem,
  );
  if (choice?.title !== go) return;
  try {
    const detail = await vscode.window.withProgress({ location: { viewId: ViewId.timeTunnel }, title: vscode.l10n.t('Replaying #{0}', node.record.index) },
      () => node.entry.session.call('ttReplay', { index: node.record.index }));
    deps.timeTunnelView.addReplay(node.entry, node.record.index, detail);
    if (detail.isException) {
      // The replay ran and raised: say so where the user is looking, with the why (e.g. a view needs its request context).
      void vscode.window.showWarningMessage(vscode.l10n.t('Replay of #{0} raised {1}', node.record.index, plainText(detail.exceptionLine ?? detail.exceptionType ?? 'an exception')),
        { detail: detail.hint ? plainText(detail.hint) : undefined });
    }
  } catch (error) {
    await showError(deps.log, 'tt replay', error);
  }
}

async function showProbes(deps: ProbeDeps): Promise<void> {
  const active = deps.store.active;
  const stopAll = { label: vscode.l10n.t('$(debug-stop) Stop all'), entry: undefined as ProbeEntry | undefined };
  const items = active.map((entry) => {
    const kind = probeKind(entry.probe.method);
    return { label: `$(${kind.icon}) ${entry.probe.location}`,
      description: vscode.l10n.t('{0} · pid {1} · {2} calls', kind.name, entry.probe.pid, entry.probe.count), entry };
  });
  const picked = await vscode.window.showQuickPick(active.length ? [...items, stopAll] : [], {
    placeHolder: active.length ? vscode.l10n.t('Active probes: pick one to reveal it') : vscode.l10n.t('Nothing is instrumented.'),
  });
  if (!picked) return;
  if (!picked.entry) {
    for (const e of active) e.probe.stop();
    return;
  }
  await vscode.commands.executeCommand(`${probeKind(picked.entry.probe.method).viewId}.focus`);
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
