import * as vscode from 'vscode';
import { containerText } from './containers';
import { PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { ProcessInfo } from './processInfo';
import { buildPickerEntries, parsePid, type PickerEntry } from './pickerItems';

export interface PickProcessOptions {
  /** Lists processes; called when the picker opens and on every refresh. */
  list: () => Promise<ProcessInfo[]>;
  /** Also list non-Python processes, after the Python ones (setting pyflight.processPicker.showAllProcesses). */
  showAllProcesses: boolean;
  log?: Logger;
  /** Under each pre-fork master, offer "All N workers" (attach to every worker as one group). */
  offerWorkerGroups?: boolean;
}

interface ProcessPickItem extends vscode.QuickPickItem {
  pid?: number;
  manual?: boolean;
  workersOf?: number;
}

type Choice = { pid: number } | { manual: string } | { workersOf: number } | undefined;

/** What the user picked to attach to: one process, or every worker of a master. */
export type AttachTarget = { pid: number } | { workersOf: number };

// Non-breaking spaces: the quick pick collapses ordinary leading whitespace in labels.
const WORKER_INDENT = '\u00a0\u00a0└ ';

/** The picker with "All N workers" under each master: a process or a master's worker group. */
export async function pickAttachTarget(options: PickProcessOptions): Promise<AttachTarget | undefined> {
  const choice = await showProcessQuickPick(options);
  if (!choice) return undefined;
  if ('workersOf' in choice) return choice;
  if ('pid' in choice) return choice;
  const pid = await promptForPid(choice.manual);
  return pid === undefined ? undefined : { pid };
}

function showProcessQuickPick(options: PickProcessOptions): Promise<Choice> {
  const quickPick = vscode.window.createQuickPick<ProcessPickItem>();
  const refreshButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('refresh'), tooltip: vscode.l10n.t('Refresh') };
  const manualItem: ProcessPickItem = { label: vscode.l10n.t('$(edit) Enter PID manually…'), manual: true };
  const placeholder = vscode.l10n.t('Filter by command line, PID or user');
  quickPick.title = vscode.l10n.t('Attach to Python Process');
  quickPick.placeholder = placeholder;
  quickPick.matchOnDescription = true;
  quickPick.matchOnDetail = true;
  quickPick.buttons = [refreshButton];
  quickPick.items = [manualItem];

  // A refresh started later wins over a slower earlier one.
  let generation = 0;
  const load = async () => {
    const current = ++generation;
    quickPick.busy = true;
    try {
      const processes = await options.list();
      if (current !== generation) return;
      const entries = buildPickerEntries(processes, { showAllProcesses: options.showAllProcesses, now: Date.now() });
      const previous = quickPick.activeItems[0]?.pid;
      const items = [manualItem, ...entries.flatMap((e) => withGroupItem(e, entries, options.offerWorkerGroups ?? false))];
      // Refresh keeps the filter text (quickPick.value) and, when still listed, the highlighted process.
      quickPick.keepScrollPosition = previous !== undefined;
      quickPick.items = items;
      const active = items.find((i) => i.pid !== undefined && i.pid === previous)
        ?? (quickPick.value ? undefined : items.find((i) => i.pid !== undefined));
      if (active) quickPick.activeItems = [active];
      const anyPython = entries.some((e) => e.type === 'process' && e.place !== 'other');
      quickPick.placeholder = anyPython ? placeholder : vscode.l10n.t('No Python processes found. Refresh, or enter a PID manually.');
    } catch (error) {
      if (current !== generation) return;
      const failure = PyFlightError.from(error);
      options.log?.warn(`Listing processes failed: ${failure.code} ${failure.message}`);
      quickPick.items = [manualItem];
      quickPick.placeholder = vscode.l10n.t('Could not list processes: {0}', failure.message);
    } finally {
      if (current === generation) quickPick.busy = false;
    }
  };

  return new Promise<Choice>((resolve) => {
    const subscriptions = [
      // A typed PID that is not listed (another user's, or just started) can still be entered.
      quickPick.onDidChangeValue((value) => {
        const pid = parsePid(value);
        const show = pid !== undefined && !quickPick.items.some((i) => i.pid === pid);
        if (show !== !!manualItem.alwaysShow) {
          manualItem.alwaysShow = show;
          quickPick.items = [...quickPick.items];
        }
      }),
      quickPick.onDidTriggerButton((button) => {
        if (button === refreshButton) void load();
      }),
      quickPick.onDidAccept(() => {
        const item = quickPick.selectedItems[0];
        if (!item) return;
        resolve(item.manual ? { manual: quickPick.value } : item.workersOf !== undefined ? { workersOf: item.workersOf }
          : item.pid !== undefined ? { pid: item.pid } : undefined);
        quickPick.hide();
      }),
      quickPick.onDidHide(() => {
        resolve(undefined);
        subscriptions.forEach((s) => s.dispose());
        quickPick.dispose();
      }),
    ];
    quickPick.show();
    void load();
  });
}

function toItem(entry: PickerEntry): ProcessPickItem {
  if (entry.type === 'separator') return { kind: vscode.QuickPickItemKind.Separator, label: separatorLabel(entry) };
  const { process } = entry;
  const description = [vscode.l10n.t('PID {0}', process.pid), process.user, entry.age, entry.cpu, entry.memory,
    entry.pypy ? vscode.l10n.t('PyPy is not supported') : undefined, process.container ? containerText(process.container) : undefined]
    .filter(Boolean).join(' · ');
  return { label: processLabel(entry), description, detail: process.commandLine, pid: process.pid };
}

/** The entry's item, and after a master with workers an "All N workers" item when asked for. */
function withGroupItem(entry: PickerEntry, entries: readonly PickerEntry[], offer: boolean): ProcessPickItem[] {
  const item = toItem(entry);
  if (!offer || entry.type !== 'process' || entry.place !== 'master') return [item];
  const master = entry.process;
  const workers = entries.filter((e) => e.type === 'process' && e.place === 'worker' && e.process.ppid === master.pid).length;
  if (!workers) return [item];
  return [item, {
    label: `${WORKER_INDENT}$(layers) ${workers === 1 ? vscode.l10n.t('The one worker of this {0} master', master.server?.kind ?? '')
      : vscode.l10n.t('All {0} workers of this {1} master', workers, master.server?.kind ?? '')}`,
    description: vscode.l10n.t('one session per worker; workers started later join; PID {0}', master.pid),
    workersOf: master.pid,
  }];
}

function separatorLabel(entry: Extract<PickerEntry, { type: 'separator' }>): string {
  switch (entry.section) {
    case 'python':
      return vscode.l10n.t('Python processes');
    case 'server':
      return vscode.l10n.t('{0} (PID {1})', entry.kind, entry.masterPid);
    case 'other':
      return vscode.l10n.t('Other processes');
  }
}

function processLabel(entry: Extract<PickerEntry, { type: 'process' }>): string {
  const kind = entry.process.server?.kind ?? '';
  switch (entry.place) {
    case 'master':
      return `$(server-process) ${vscode.l10n.t('{0} master', kind)}`;
    case 'worker':
      return `${WORKER_INDENT}$(symbol-method) ${vscode.l10n.t('{0} worker', kind)}`;
    case 'python':
      return `$(symbol-method) ${entry.shortCommand}`;
    case 'other':
      return `$(circle-outline) ${entry.shortCommand}`;
  }
}

/** Asks for a PID; a number already typed as the filter is offered as the value. */
async function promptForPid(typed: string): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title: vscode.l10n.t('Attach to Python Process'),
    prompt: vscode.l10n.t('Process ID (PID) of the Python process to attach to'),
    placeHolder: '12345',
    value: parsePid(typed) === undefined ? '' : typed.trim(),
    ignoreFocusOut: true,
    validateInput: (value) => (parsePid(value) === undefined ? vscode.l10n.t('Enter a positive whole number.') : undefined),
  });
  return text === undefined ? undefined : parsePid(text);
}
