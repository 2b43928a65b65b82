import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { showError } from '../common/showError';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import type { WorkerGroup } from '../session/workerGroup';
import { diffProfiles } from './diff';
import { writeCollapsed, writeSpeedscope, writeSvg } from './export';
import type { ExportFormat } from '../../webview/shared/flameProtocol';
import { FlameGraphPanel, type FlameGraphInput } from './flameGraphPanel';
import { profileFromCollapsed, type CpuProfile } from './model';
import type { ProfileEditorHeat } from './profileEditor';
import { clockTime, profileRowLabel, type KeptProfile, type ProfileStore } from './profileStore';
import { recordCpuProfile, type CpuProfileOptions, type CpuProfileResult } from './record';
import { sourceLineReader } from './sourceLines';
import { recordWorkersProfile, type WorkersProfileResult } from './workers';
import { setting } from '../common/config';

export interface ProfileDeps {
  log: Logger;
  sessions: SessionManager;
  extensionUri: vscode.Uri;
  store: ProfileStore;
  heat: ProfileEditorHeat;
}

/** Open flame graph panels of kept profiles, by id: reopening reveals the panel. */
const openPanels = new Map<number, FlameGraphPanel>();

interface DurationItem extends vscode.QuickPickItem {
  seconds: number | undefined;
}

interface OptionItem extends vscode.QuickPickItem {
  key: 'native' | 'idle' | 'gil';
}

function workspaceRoots(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
}

function openSource(file: string, line?: number): void {
  const position = new vscode.Position(Math.max((line ?? 1) - 1, 0), 0);
  void vscode.window.showTextDocument(vscode.Uri.file(file), { selection: new vscode.Range(position, position), preview: true });
}

/** Duration, then native / idle / GIL-only: what `py-spy record` is asked for. */
async function askOptions(label: string): Promise<CpuProfileOptions | undefined> {
  const title = vscode.l10n.t('PyFlight: CPU profile of {0}', label);
  const durations: DurationItem[] = [
    { label: vscode.l10n.t('Until I stop it'), description: vscode.l10n.t('the graph fills in live; Stop keeps what was sampled'), seconds: undefined },
    { label: vscode.l10n.t('10 seconds'), seconds: 10 },
    { label: vscode.l10n.t('30 seconds'), seconds: 30 },
    { label: vscode.l10n.t('60 seconds'), seconds: 60 },
  ];
  const duration = await vscode.window.showQuickPick(durations, { title, placeHolder: vscode.l10n.t('How long? (sampled from outside with py-spy: nothing is loaded into the process)') });
  if (!duration) return undefined;
  const options: OptionItem[] = [
    { label: vscode.l10n.t('Native frames'), description: vscode.l10n.t('C, C++, Cython and Rust frames too'), key: 'native' },
    { label: vscode.l10n.t('Idle threads'), description: vscode.l10n.t('threads that wait (sleep, I/O, locks), marked idle'), key: 'idle' },
    { label: vscode.l10n.t('Only samples holding the GIL'), description: vscode.l10n.t('what keeps the interpreter busy'), key: 'gil' },
  ];
  const picked = await vscode.window.showQuickPick(options, { title, canPickMany: true, placeHolder: vscode.l10n.t('Options (none: Python frames of running threads), then Enter') });
  if (!picked) return undefined;
  const rate = setting('profile.rate');
  return { rate, durationSeconds: duration.seconds, native: picked.some((p) => p.key === 'native'), idle: picked.some((p) => p.key === 'idle'),
    gil: picked.some((p) => p.key === 'gil'), workspaceRoots: workspaceRoots() };
}

function titleOf(session: Session, result: { profile: CpuProfile }, live: boolean): string {
  return vscode.l10n.t('CPU {0}: {1} samples{2}', session.label, result.profile.samples, live ? vscode.l10n.t(' (recording)') : '');
}

const EXPORTS: Record<ExportFormat, { suffix: string; filters: Record<string, string[]> }> = {
  speedscope: { suffix: '.speedscope.json', filters: { speedscope: ['json'] } },
  collapsed: { suffix: '.collapsed.txt', filters: { 'collapsed stacks': ['txt', 'collapsed'] } },
  svg: { suffix: '.svg', filters: { SVG: ['svg'] } },
};

async function exportProfile(deps: ProfileDeps, profile: CpuProfile, name: string, rate: number | undefined, format: ExportFormat): Promise<void> {
  const base = name.replace(/[^\w.-]+/g, '_');
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(workspaceRoots()[0] ?? process.cwd(), `${base}${EXPORTS[format].suffix}`)),
    filters: EXPORTS[format].filters,
  });
  if (!target) return;
  try {
    if (format === 'speedscope') await writeSpeedscope(target.fsPath, profile, { name, rate });
    else if (format === 'svg') await writeSvg(target.fsPath, profile, name);
    else await writeCollapsed(target.fsPath, profile);
    vscode.window.setStatusBarMessage(vscode.l10n.t('PyFlight: profile saved to {0}', target.fsPath), 5000);
  } catch (error) {
    await showError(deps.log, 'save profile', error);
  }
}

/** Records with live updates into a flame graph panel; Stop (the notification's Cancel) keeps the samples. */
async function recordInto(deps: ProfileDeps, session: Session, options: CpuProfileOptions): Promise<void> {
  const startedAt = Date.now();
  let panel: FlameGraphPanel | undefined;
  let latest: { profile: CpuProfile } | undefined;
  const show = (result: { profile: CpuProfile }, live: boolean, note?: string) => {
    latest = result;
    const input = { title: titleOf(session, result, live), profile: result.profile, live, note };
    if (!panel) {
      panel = new FlameGraphPanel(deps.extensionUri, input, openSource);
      panel.onExport = (format) => latest && void exportProfile(deps, latest.profile, session.label, options.rate, format);
    } else {
      panel.update(input);
    }
  };
  const result = await vscode.window.withProgress<CpuProfileResult | undefined>({
    location: vscode.ProgressLocation.Notification,
    title: vscode.l10n.t('PyFlight: profiling {0}', session.label),
    cancellable: true,
  }, async (progress, token) => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    progress.report({ message: options.durationSeconds ? vscode.l10n.t('{0} s; Cancel stops early and keeps the samples', options.durationSeconds)
      : vscode.l10n.t('Cancel stops and keeps the samples') });
    try {
      return await recordCpuProfile(session, { ...options, log: deps.log }, abort.signal, (p) => {
        show(p, true);
        progress.report({ message: vscode.l10n.t('{0} samples in {1} s', p.profile.samples, Math.round(p.elapsedMs / 1000)) });
      });
    } catch (error) {
      await showError(deps.log, `profile ${session.pid}`, error);
      return undefined;
    }
  });
  if (!result) return;
  const note = result.end.reason === 'targetExited' ? result.end.message : undefined;
  show(result, false, note);
  panel?.reveal();
  deps.log.info(`profile ${session.pid}: ${result.profile.samples} samples, ended by ${result.end.reason}`);
  const kept = deps.store.add({ owner: { kind: 'session', pid: session.pid, startedAt: session.startedAt }, label: session.label, startedAt,
    durationMs: result.elapsedMs, rate: result.rate, profile: result.profile, ...(note ? { note } : {}) });
  if (panel) adopt(deps, kept, panel);
  deps.heat.show(kept);
}

/** A panel now shows a kept profile: its exports use it, reopening it reveals this panel. */
function adopt(deps: ProfileDeps, kept: KeptProfile, panel: FlameGraphPanel): void {
  openPanels.set(kept.id, panel);
  panel.onDidDispose(() => { if (openPanels.get(kept.id) === panel) openPanels.delete(kept.id); });
  panel.onExport = (format) => void exportProfile(deps, kept.profile, kept.label, kept.rate, format);
}

function inputOf(kept: KeptProfile): FlameGraphInput {
  return { title: vscode.l10n.t('CPU {0} · {1}', kept.label, clockTime(kept.startedAt)), profile: kept.profile, live: false, note: kept.note,
    ...(kept.workers ? { workers: kept.workers } : {}) };
}

/** Opens (or reveals) the flame graph of a kept profile, and shows it in the editor. */
function openKept(deps: ProfileDeps, kept: KeptProfile): void {
  deps.heat.show(kept);
  const open = openPanels.get(kept.id);
  if (open) {
    open.reveal();
    return;
  }
  adopt(deps, kept, new FlameGraphPanel(deps.extensionUri, inputOf(kept), openSource));
}

type KeptArg = { kind: 'profile'; profile: KeptProfile } | KeptProfile | number | undefined;

/** The kept profile a command runs on: a Sessions view row, a CodeLens argument, an id; else a pick. */
async function keptOf(deps: ProfileDeps, arg: KeptArg, placeHolder: string): Promise<KeptProfile | undefined> {
  if (typeof arg === 'number') return deps.store.get(arg);
  if (arg && 'kind' in arg && arg.kind === 'profile') return deps.store.get(arg.profile.id);
  if (arg && 'id' in arg) return deps.store.get(arg.id);
  return pickKept(deps, placeHolder);
}

async function pickKept(deps: ProfileDeps, placeHolder: string, exclude?: number): Promise<KeptProfile | undefined> {
  const items = deps.store.all.filter((k) => k.id !== exclude).map((k) => ({ label: profileRowLabel(k), description: k.label, kept: k }));
  if (!items.length) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No CPU profiles yet: record one (PyFlight: Record CPU Profile…) or open a file (PyFlight: Open CPU Profile File…).'));
    return undefined;
  }
  return (await vscode.window.showQuickPick(items, { placeHolder }))?.kept;
}

/** Before, then after: kept profiles or files; one differential flame graph. */
async function compareProfiles(deps: ProfileDeps): Promise<void> {
  type Pick = vscode.QuickPickItem & { kept?: KeptProfile; file?: true };
  const choose = async (step: string, exclude?: number): Promise<KeptProfile | undefined> => {
    const items: Pick[] = [
      ...deps.store.all.filter((k) => k.id !== exclude).map((k): Pick => ({ label: profileRowLabel(k), description: k.label, kept: k })),
      { label: vscode.l10n.t('$(folder-opened) Open a profile file…'), description: vscode.l10n.t('collapsed stacks (py-spy raw, flamegraph.pl)'), file: true },
    ];
    const picked = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('PyFlight: Compare CPU Profiles ({0})', step), placeHolder: step });
    if (!picked) return undefined;
    if (picked.kept) return picked.kept;
    return openProfileFile(deps, undefined, false);
  };
  const before = await choose(vscode.l10n.t('1/2: the profile BEFORE (the baseline)'));
  if (!before) return;
  const after = await choose(vscode.l10n.t('2/2: the profile AFTER (compared with {0})', clockTime(before.startedAt)), before.id);
  if (!after) return;
  const diff = diffProfiles(before.profile, after.profile);
  const name = (k: KeptProfile) => `${k.label} ${clockTime(k.startedAt)}`;
  const panel = new FlameGraphPanel(deps.extensionUri, { title: vscode.l10n.t('CPU diff: {0} → {1}', name(before), name(after)), profile: diff, live: false,
    diff: { before: name(before), after: name(after) } }, openSource);
  panel.onExport = (format) => void exportProfile(deps, after.profile, after.label, after.rate, format);
}

/** Every worker of a group at once, one merged graph with a per-worker filter. */
async function recordWorkers(deps: ProfileDeps, group: WorkerGroup): Promise<void> {
  const workers = group.workers.filter((s) => s.state === 'ready');
  if (!workers.length) {
    void vscode.window.showWarningMessage(vscode.l10n.t('{0} has no attached workers to profile.', group.label));
    return;
  }
  const options = await askOptions(vscode.l10n.t('{0} workers of {1}', workers.length, group.label));
  if (!options) return;
  const startedAt = Date.now();
  let panel: FlameGraphPanel | undefined;
  const title = (samples: number, live: boolean) => vscode.l10n.t('CPU {0} ({1} workers): {2} samples{3}', group.label, workers.length, samples,
    live ? vscode.l10n.t(' (recording)') : '');
  const show = (p: { merged: CpuProfile; workers: KeptProfile['workers'] }, live: boolean, note?: string) => {
    const input: FlameGraphInput = { title: title(p.merged.samples, live), profile: p.merged, live, note, workers: p.workers };
    if (!panel) panel = new FlameGraphPanel(deps.extensionUri, input, openSource);
    else panel.update(input);
  };
  const result = await vscode.window.withProgress<WorkersProfileResult | undefined>({
    location: vscode.ProgressLocation.Notification,
    title: vscode.l10n.t('PyFlight: profiling {0} workers of {1}', workers.length, group.label),
    cancellable: true,
  }, async (progress, token) => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    try {
      return await recordWorkersProfile(workers, { ...options, log: deps.log }, abort.signal, (p) => {
        show(p, true);
        progress.report({ message: vscode.l10n.t('{0} samples in {1} s', p.merged.samples, Math.round(p.elapsedMs / 1000)) });
      });
    } catch (error) {
      await showError(deps.log, `profile workers of ${group.masterPid}`, error);
      return undefined;
    }
  });
  if (!result) return;
  const failed = result.workers.filter((w) => w.error);
  const note = failed.length ? failed.map((w) => vscode.l10n.t('worker {0}: {1}', w.pid, w.error!)).join(' · ') : undefined;
  show(result, false, note);
  const kept = deps.store.add({ owner: { kind: 'group', masterPid: group.masterPid }, label: group.label, startedAt, durationMs: result.elapsedMs,
    rate: result.rate, profile: result.merged, workers: result.workers, ...(note ? { note } : {}) });
  if (panel) {
    adopt(deps, kept, panel);
    panel.reveal();
  }
  deps.heat.show(kept);
}

async function openProfileFile(deps: ProfileDeps, uri?: vscode.Uri, show = true): Promise<KeptProfile | undefined> {
  const file = uri ?? (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'collapsed stacks': ['txt', 'collapsed', 'folded'], all: ['*'] },
    title: vscode.l10n.t('Open a CPU profile (collapsed stacks: py-spy raw, flamegraph.pl)') }))?.[0];
  if (!file) return undefined;
  try {
    const text = await fs.readFile(file.fsPath, 'utf8');
    const profile = profileFromCollapsed(text, { workspaceRoots: workspaceRoots(), lineText: sourceLineReader() });
    if (!profile.samples) {
      throw new PyFlightError(ErrorCode.BadArgument, `${path.basename(file.fsPath)} has no collapsed stacks.`,
        'Expected lines like `main (app.py:3);work (app.py:9) 42`, as py-spy --format raw or PyFlight\'s Save collapsed… write.');
    }
    const stat = await fs.stat(file.fsPath);
    const kept = deps.store.add({ owner: { kind: 'file', path: file.fsPath }, label: path.basename(file.fsPath), startedAt: stat.mtimeMs,
      durationMs: 0, profile });
    if (show) {
      const panel = new FlameGraphPanel(deps.extensionUri, { title: vscode.l10n.t('CPU {0}', path.basename(file.fsPath)), profile, live: false }, openSource);
      adopt(deps, kept, panel);
      deps.heat.show(kept);
    }
    return kept;
  } catch (error) {
    await showError(deps.log, 'open profile', error);
    return undefined;
  }
}

export function registerProfileCommands(context: vscode.ExtensionContext, deps: ProfileDeps): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.recordCpuProfile, async (node?: { session?: Session }) => {
      const session = node?.session ?? (await deps.sessions.resolve( { purpose: 'profile',
        placeHolder: vscode.l10n.t('Profile which process?') }));
      if (!session) return;
      const options = await askOptions(session.label);
      if (options) await recordInto(deps, session, options);
    }),
    vscode.commands.registerCommand(CommandId.openProfile, async (uri?: vscode.Uri) => { await openProfileFile(deps, uri instanceof vscode.Uri ? uri : undefined); }),
    vscode.commands.registerCommand(CommandId.openKeptProfile, async (arg?: KeptArg) => {
      const kept = await keptOf(deps, arg, vscode.l10n.t('Open which CPU profile?'));
      if (kept) openKept(deps, kept);
    }),
    vscode.commands.registerCommand(CommandId.exportKeptProfileSpeedscope, async (arg?: KeptArg) => {
      const kept = await keptOf(deps, arg, vscode.l10n.t('Export which CPU profile?'));
      if (kept) await exportProfile(deps, kept.profile, `${kept.label} ${clockTime(kept.startedAt)}`, kept.rate, 'speedscope');
    }),
    vscode.commands.registerCommand(CommandId.exportKeptProfileCollapsed, async (arg?: KeptArg) => {
      const kept = await keptOf(deps, arg, vscode.l10n.t('Export which CPU profile?'));
      if (kept) await exportProfile(deps, kept.profile, `${kept.label} ${clockTime(kept.startedAt)}`, kept.rate, 'collapsed');
    }),
    vscode.commands.registerCommand(CommandId.deleteKeptProfile, async (arg?: KeptArg) => {
      const kept = await keptOf(deps, arg, vscode.l10n.t('Delete which CPU profile?'));
      if (!kept) return;
      deps.store.delete(kept.id);
      openPanels.get(kept.id)?.dispose();
    }),
    vscode.commands.registerCommand(CommandId.compareProfiles, () => compareProfiles(deps)),
    vscode.commands.registerCommand(CommandId.recordWorkersProfile, async (node?: { group?: WorkerGroup }) => {
      const group = node?.group ?? (await pickGroup(deps));
      if (group) await recordWorkers(deps, group);
    }),
  );
}

async function pickGroup(deps: ProfileDeps): Promise<WorkerGroup | undefined> {
  const groups = deps.sessions.workerGroups;
  if (groups.length <= 1) {
    if (!groups.length) void vscode.window.showInformationMessage(vscode.l10n.t('No worker group is attached: use Attach to Process… on a gunicorn, uvicorn or celery master and choose all workers.'));
    return groups[0];
  }
  return (await vscode.window.showQuickPick(groups.map((g) => ({ label: g.label, description: vscode.l10n.t('{0} workers', g.workers.length), g })),
    { placeHolder: vscode.l10n.t('Profile the workers of which server?') }))?.g;
}
