import * as vscode from 'vscode';
import { CommandId, ViewId } from '../common/commandIds';
import { readConfig } from '../common/config';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { plainText } from '../common/plainText';
import { showError } from '../common/showError';
import { endText, recordNoun } from '../format/probeText';
import { formatProbeOptions, parseProbeOptions } from '../probes/probeOptions';
import type { ProbeEntry, ProbeStore, SourceLocation } from '../probes/probeStore';
import { editorTarget, sourceOf } from '../probes/probeTarget';
import type { ProbeMethod } from '../session/probe';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import type { TimeTunnelView } from '../views/timeTunnelView';
import { resolveSession } from './attach';

export interface ProbeDeps {
  log: Logger;
  sessions: SessionManager;
  store: ProbeStore;
  timeTunnelView: TimeTunnelView;
}

const NAMES: Record<ProbeMethod, { title: string; view: string }> = {
  watch: { title: 'Watch', view: ViewId.watch },
  trace: { title: 'Trace', view: ViewId.trace },
  ttRecord: { title: 'Record Calls (Time Tunnel)', view: ViewId.timeTunnel },
};

const PROMPTS: Record<ProbeMethod, string> = {
  watch: 'module [class] method, then options: --expr EXPR (what to show; default args,kwargs; also return_obj, target) · '
    + '-f FILTER (e.g. "args[0] > 3") · -e only calls that raise · -n CALLS (stop after) · -x DEPTH 1-4 · -r repr() · -v no truncation',
  trace: 'module [class] method, then options: -n CALLS (stop after) · -i MS (hide calls cheaper than this, default 0.1) · '
    + '-et MS (only calls slower than this) · -d DEPTH · -f FILTER',
  ttRecord: 'module [class] method, then options: -n CALLS (records to keep, default 50) · -f FILTER',
};

/** Failures the user fixes by editing the options (as opposed to the process going away). */
const OPTION_ERRORS = new Set<string>([ErrorCode.BadLocation, ErrorCode.BadExpression, ErrorCode.BadArgument]);

function defaultLimit(method: ProbeMethod): number {
  const c = readConfig();
  return method === 'watch' ? c.watchDefaultLimit : method === 'trace' ? c.traceDefaultLimit : c.ttDefaultLimit;
}

async function sessionForProbe(deps: ProbeDeps, file?: string): Promise<Session | undefined> {
  return resolveSession(deps.sessions, { log: deps.log, purpose: 'probe', file, placeHolder: vscode.l10n.t('Instrument which process?') });
}

/** Shows the options in an input box (validated as typed), then starts the probe. */
async function confirmAndStart(deps: ProbeDeps, session: Session, method: ProbeMethod, initial: string, source?: SourceLocation): Promise<ProbeEntry | undefined> {
  const text = await vscode.window.showInputBox({
    title: vscode.l10n.t('PyFlight: {0} in process {1}', NAMES[method].title, session.pid),
    prompt: vscode.l10n.t(PROMPTS[method]),
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
  return startProbe(deps, session, method, params, source ?? (await sourceOf(session, params)), text);
}

export function startProbe(deps: ProbeDeps, session: Session, method: ProbeMethod, params: ReturnType<typeof parseProbeOptions>,
  source?: SourceLocation, typed?: string): ProbeEntry {
  const probe = session.startProbe(method, params as never);
  const entry = deps.store.add(session, probe, source);
  void vscode.commands.executeCommand(`${NAMES[method].view}.focus`);
  deps.log.info(`${method} ${probe.location} in ${session.pid}: started`);
  probe.done.then(
    (summary) => {
      const ended = endText(summary, recordNoun(method, params));
      deps.log.info(`${method} ${probe.location} in ${session.pid}: ${ended}`);
      if (summary.reason !== 'stopped') {
        vscode.window.setStatusBarMessage(vscode.l10n.t('PyFlight: {0} {1}: {2}', method === 'ttRecord' ? 'tt' : method, probe.location, ended), 8000);
      }
    },
    async (error: unknown) => {
      const failure = PyFlightError.from(error);
      if (failure.code === ErrorCode.HelperCrashed || failure.code === ErrorCode.Cancelled) return;
      if (!OPTION_ERRORS.has(failure.code) || probe.agentArgs) {
        await showError(deps.log, `${method} ${probe.location}`, failure);
        return;
      }
      // Nothing was installed: drop the attempt from the view and let the user fix what they typed.
      deps.store.remove(entry);
      const edit = vscode.l10n.t('Edit Options…');
      if ((await showError(deps.log, `${method} ${probe.location}`, failure, edit)) === edit && session.state === 'ready') {
        await confirmAndStart(deps, session, method, typed ?? formatProbeOptions(method, params), source);
      }
    },
  );
  return entry;
}

async function fromEditor(deps: ProbeDeps, method: ProbeMethod, uri?: vscode.Uri): Promise<void> {
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
    const initial = formatProbeOptions(method, { module: target.module, class: target.function.class, method: target.function.method,
      nested: target.function.nested, limit: defaultLimit(method) } as never);
    await confirmAndStart(deps, session, method, initial, target.function.nested ? undefined : target.source);
  } catch (error) {
    await showError(deps.log, `${method} from editor`, error);
  }
}

async function fromPalette(deps: ProbeDeps, method: ProbeMethod): Promise<void> {
  const session = await sessionForProbe(deps);
  if (session) await confirmAndStart(deps, session, method, '');
}

type EntryNode = { kind: 'entry'; entry: ProbeEntry } | undefined;

export function registerProbeCommands(context: vscode.ExtensionContext, deps: ProbeDeps): void {
  const forKind = (method: ProbeMethod) => [
    (uri?: vscode.Uri) => fromEditor(deps, method, uri instanceof vscode.Uri ? uri : undefined),
    () => fromPalette(deps, method),
  ] as const;
  const [watchHere, watchAsk] = forKind('watch');
  const [traceHere, traceAsk] = forKind('trace');
  const [recordHere, recordAsk] = forKind('ttRecord');
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.watchThisFunction, watchHere),
    vscode.commands.registerCommand(CommandId.traceThisFunction, traceHere),
    vscode.commands.registerCommand(CommandId.recordThisFunction, recordHere),
    vscode.commands.registerCommand(CommandId.watchFunction, watchAsk),
    vscode.commands.registerCommand(CommandId.traceFunction, traceAsk),
    vscode.commands.registerCommand(CommandId.recordFunction, recordAsk),
    vscode.commands.registerCommand(CommandId.stopProbe, (node: EntryNode) => node?.entry.probe.stop()),
    vscode.commands.registerCommand(CommandId.restartProbe, async (node: EntryNode) => {
      if (!node) return;
      const { entry } = node;
      if (entry.session.state !== 'ready') {
        void vscode.window.showWarningMessage(vscode.l10n.t('Process {0} is no longer attached.', entry.session.pid));
        return;
      }
      entry.probe.stop();
      await entry.probe.done.catch(() => undefined);
      startProbe(deps, entry.session, entry.probe.method, entry.probe.params as never, entry.source);
    }),
    vscode.commands.registerCommand(CommandId.clearWatches, () => deps.store.clear('watch')),
    vscode.commands.registerCommand(CommandId.clearTraces, () => deps.store.clear('trace')),
    vscode.commands.registerCommand(CommandId.clearRecords, () => deps.store.clear('ttRecord')),
    vscode.commands.registerCommand(CommandId.stopAllProbes, () => { for (const e of deps.store.active) e.probe.stop(); }),
    vscode.commands.registerCommand(CommandId.showProbes, () => showProbes(deps)),
    vscode.commands.registerCommand(CommandId.ttReplay, (node?: { kind: 'record'; entry: ProbeEntry<'ttRecord'>; record: { index: number } }) => replay(deps, node)),
    vscode.commands.registerCommand(CommandId.ttDelete, async (node?: { kind: 'record'; entry: ProbeEntry<'ttRecord'>; record: { index: number } }) => {
      if (!node) return;
      try {
        await node.entry.session.ttDelete({ index: node.record.index });
        deps.timeTunnelView.markDeleted(node.entry, node.record.index);
      } catch (error) {
        await showError(deps.log, 'tt delete', error);
      }
    }),
  );
}

async function replay(deps: ProbeDeps, node?: { kind: 'record'; entry: ProbeEntry<'ttRecord'>; record: { index: number } }): Promise<void> {
  if (!node) return;
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
      () => node.entry.session.ttReplay(node.record.index));
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
  const items = active.map((entry) => ({ label: `$(${entry.probe.method === 'watch' ? 'eye' : entry.probe.method === 'trace' ? 'pulse' : 'history'}) ${entry.probe.location}`,
    description: vscode.l10n.t('{0} · pid {1} · {2} calls', entry.probe.method === 'ttRecord' ? 'tt' : entry.probe.method, entry.probe.pid, entry.probe.count), entry }));
  const picked = await vscode.window.showQuickPick(active.length ? [...items, stopAll] : [], {
    placeHolder: active.length ? vscode.l10n.t('Active probes: pick one to reveal it') : vscode.l10n.t('Nothing is instrumented.'),
  });
  if (!picked) return;
  if (!picked.entry) {
    for (const e of active) e.probe.stop();
    return;
  }
  await vscode.commands.executeCommand(`${NAMES[picked.entry.probe.method].view}.focus`);
}
