/**
 * The ways in: Inspect Value (right-click, the hover's link), Inspect a Global… (palette), Show Live
 * Instances (right-click, palette, memory panel) and Force GC; results go to the Values view.
 */
import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import type { Logger } from '../common/logger';
import { showError } from '../common/showError';
import { blocksAt } from '../probes/probeTarget';
import type { GlobalName } from '../protocol/helper';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import { LiveValues } from './liveValues';
import { resolveClass } from './resolveClass';
import { ValueHover } from './valueHover';
import { ValuesController } from './valuesController';
import { classAt, inspectTargetAt } from './valueTarget';
import { forceGcText } from './valueText';

export interface InspectDeps {
  log: Logger;
  sessions: SessionManager;
}

/** Depth of a new value or instance listing (flight-profiler's -x; Change Options… edits it). */
const DEFAULT_EXPAND = 2;
const DEFAULT_LIMIT = 10;

/** What the hover's link and the memory panel pass: a process and a place. */
interface InspectArgs {
  pid?: number;
  module: string;
  class?: string;
  field?: string;
}

const isArgs = (a: unknown): a is InspectArgs => typeof a === 'object' && a !== null && typeof (a as InspectArgs).module === 'string';

export function registerInspectCommands(context: vscode.ExtensionContext, deps: InspectDeps): void {
  const values = new ValuesController(deps.log, (listener) => deps.sessions.onDidChange(listener));
  context.subscriptions.push(values,
    vscode.languages.registerHoverProvider({ language: 'python', scheme: 'file' }, new ValueHover(deps.sessions, new LiveValues(deps.log))));
  const show = values.show.bind(values);

  const sessionFor = (file: string | undefined, pid?: number) => {
    const known = pid !== undefined ? deps.sessions.get(pid) : undefined;
    if (known?.state === 'ready') return Promise.resolve(known);
    return deps.sessions.resolve( { purpose: 'inspect', file, placeHolder: vscode.l10n.t('Inspect which process?') });
  };

  /** The editor's file, its session and the module the target imported it as (loads the agent, after consent). */
  const fromEditor = async (uri: unknown): Promise<{ editor: vscode.TextEditor; session: Session; module: string; lines: string[] } | undefined> => {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.languageId !== 'python' || (uri instanceof vscode.Uri && editor.document.uri.toString() !== uri.toString())) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Open a Python file of the process and put the cursor on a name first.'));
      return undefined;
    }
    const session = await sessionFor(editor.document.uri.fsPath);
    if (!session) return undefined;
    const { module } = await session.call('module', { file: editor.document.uri.fsPath });
    return { editor, session, module, lines: editor.document.getText().split(/\r?\n/) };
  };

  const inspectValue = async (arg?: unknown) => {
    try {
      if (isArgs(arg) && arg.field) {
        const session = await sessionFor(undefined, arg.pid);
        if (session) await show(session, { kind: 'value', params: { module: arg.module, class: arg.class, field: arg.field, expand: DEFAULT_EXPAND } });
        return;
      }
      const at = await fromEditor(arg);
      if (!at) return;
      const position = at.editor.selection.active;
      const what = inspectTargetAt(at.lines, position.line, position.character, await blocksAt(at.editor.document, position));
      if (!what) {
        void vscode.window.showWarningMessage(vscode.l10n.t('Put the cursor on a module-level name or a class attribute (e.g. TAX_RATE, Order.TAX_RATE, self.TAX_RATE).'));
        return;
      }
      await show(at.session, { kind: 'value', params: { module: at.module, class: what.class, field: what.field, expand: DEFAULT_EXPAND } });
    } catch (error) {
      await showError(deps.log, 'inspect value', error);
    }
  };

  const showInstances = async (arg?: unknown) => {
    try {
      if (isArgs(arg) && arg.class) {
        const session = await sessionFor(undefined, arg.pid);
        if (session) await show(session, { kind: 'instances', params: { module: arg.module, class: arg.class, limit: DEFAULT_LIMIT, expand: DEFAULT_EXPAND } });
        return;
      }
      if (!(arg instanceof vscode.Uri)) {
        // The palette: `module class`, as flight-profiler's -c takes them.
        const session = await sessionFor(vscode.window.activeTextEditor?.document.uri.fsPath);
        if (!session) return;
        const text = await vscode.window.showInputBox({
          title: vscode.l10n.t('PyFlight: Show Live Instances in process {0}', session.pid),
          prompt: vscode.l10n.t('The class as `module Class`, the module as the process imported it (e.g. __main__ Order, shop.cache Entry)'),
          placeHolder: '__main__ Order',
          validateInput: (v) => (/^\s*[A-Za-z_][\w.]*\s+[A-Za-z_]\w*\s*$/.test(v) ? undefined : vscode.l10n.t('Two words: module and class, e.g. __main__ Order.')),
        });
        if (!text) return;
        const [module, cls] = text.trim().split(/\s+/);
        await show(session, { kind: 'instances', params: { module, class: cls, limit: DEFAULT_LIMIT, expand: DEFAULT_EXPAND } });
        return;
      }
      const at = await fromEditor(arg);
      if (!at) return;
      const position = at.editor.selection.active;
      const name = classAt(at.lines, position.line, position.character, await blocksAt(at.editor.document, position));
      if (!name) {
        void vscode.window.showWarningMessage(vscode.l10n.t('Put the cursor on a class name, or inside a class.'));
        return;
      }
      const where = await resolveClass(at.session, at.module, name);
      await show(at.session, { kind: 'instances', params: { ...where, limit: DEFAULT_LIMIT, expand: DEFAULT_EXPAND } });
    } catch (error) {
      await showError(deps.log, 'show live instances', error);
    }
  };

  const inspectGlobal = async () => {
    try {
      const editor = vscode.window.activeTextEditor;
      const file = editor?.document.languageId === 'python' && editor.document.uri.scheme === 'file' ? editor.document.uri.fsPath : undefined;
      const session = await sessionFor(file);
      if (!session) return;
      const guess = file ? await session.call('module', { file }).then((r) => r.module, () => undefined) : undefined;
      const module = await vscode.window.showInputBox({
        title: vscode.l10n.t('PyFlight: Inspect a Global of process {0}', session.pid),
        prompt: vscode.l10n.t('Module, as the process imported it'), value: guess ?? '__main__',
        // A live view refreshing (Values, Watch) must not close the prompt and lose what was typed.
        ignoreFocusOut: true,
        validateInput: (v) => (/^[A-Za-z_][\w.]*$/.test(v.trim()) ? undefined : vscode.l10n.t('A module name, e.g. __main__ or shop.orders.')),
      });
      if (!module) return;
      const listed = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Listing the globals of {0}', module) },
        () => session.call('listGlobals', { module: module.trim() }));
      const order: GlobalName['kind'][] = ['value', 'class', 'function', 'module'];
      const icon = { value: 'symbol-variable', class: 'symbol-class', function: 'symbol-method', module: 'symbol-namespace' } as const;
      const items = [...listed.globals].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind))
        .map((g) => ({ label: `$(${icon[g.kind]}) ${g.name}`, description: [g.kind === 'value' ? g.type : g.kind, g.preview].filter(Boolean).join(' · '), global: g }));
      const picked = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Globals of {0} in process {1}', listed.module, session.pid),
        placeHolder: vscode.l10n.t('Pick a global to inspect (a class: its live instances)'), matchOnDescription: true, ignoreFocusOut: true });
      if (!picked) return;
      if (picked.global.kind === 'class') {
        const where = await resolveClass(session, listed.module, { field: picked.global.name });
        await show(session, { kind: 'instances', params: { ...where, limit: DEFAULT_LIMIT, expand: DEFAULT_EXPAND } });
      } else {
        await show(session, { kind: 'value', params: { module: listed.module, field: picked.global.name, expand: DEFAULT_EXPAND } });
      }
    } catch (error) {
      await showError(deps.log, 'inspect a global', error);
    }
  };

  const forceGc = async (node?: { session?: Session }) => {
    const session = node?.session?.state === 'ready' ? node.session : await sessionFor(vscode.window.activeTextEditor?.document.uri.fsPath);
    if (!session) return;
    try {
      session.requireCodeExecution('Force GC');
    } catch (error) {
      await showError(deps.log, `force gc ${session.pid}`, error);
      return undefined;
    }
    const collect: vscode.MessageItem = { title: vscode.l10n.t('Collect') };
    const cancel: vscode.MessageItem = { title: vscode.l10n.t('Cancel'), isCloseAffordance: true };
    const choice = await vscode.window.showWarningMessage(vscode.l10n.t('Run a full garbage collection (gc.collect()) in process {0}?', session.pid), {
      modal: true,
      detail: vscode.l10n.t('It runs inside the live process: its Python threads pause while the collector walks every tracked object (usually well under a second for a service, longer for a large heap), unreachable reference cycles are freed, and their __del__ methods and weakref callbacks run.'),
    }, cancel, collect);
    if (choice !== collect) return;
    try {
      const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('PyFlight: gc.collect() in process {0}…', session.pid) },
        () => session.call('forceGc', {}));
      deps.log.info(`force gc ${session.pid}: ${JSON.stringify(result)}`);
      void vscode.window.showInformationMessage(vscode.l10n.t('Process {0}: {1}', session.pid, forceGcText(result)));
      return result;
    } catch (error) {
      await showError(deps.log, `force gc ${session.pid}`, error);
      return undefined;
    }
  };

  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.inspectValue, inspectValue),
    vscode.commands.registerCommand(CommandId.inspectGlobal, inspectGlobal),
    vscode.commands.registerCommand(CommandId.showInstances, showInstances),
    vscode.commands.registerCommand(CommandId.forceGc, forceGc),
  );
}
