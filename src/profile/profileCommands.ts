import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { showError } from '../common/showError';
import { resolveSession } from '../commands/attach';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import { writeCollapsed, writeSpeedscope } from './export';
import { FlameGraphPanel } from './flameGraphPanel';
import { buildProfile, parseCollapsed, type CpuProfile } from './model';
import { recordCpuProfile, type CpuProfileOptions, type CpuProfileResult } from './record';

export interface ProfileDeps {
  log: Logger;
  sessions: SessionManager;
  extensionUri: vscode.Uri;
}

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
async function askOptions(session: Session): Promise<CpuProfileOptions | undefined> {
  const title = vscode.l10n.t('PyFlight: CPU profile of {0}', session.label);
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
  const rate = vscode.workspace.getConfiguration('pyflight').get<number>('profile.rate', 100);
  return { rate, durationSeconds: duration.seconds, native: picked.some((p) => p.key === 'native'), idle: picked.some((p) => p.key === 'idle'),
    gil: picked.some((p) => p.key === 'gil'), workspaceRoots: workspaceRoots() };
}

function titleOf(session: Session, result: { profile: CpuProfile }, live: boolean): string {
  return vscode.l10n.t('CPU {0}: {1} samples{2}', session.label, result.profile.samples, live ? vscode.l10n.t(' (recording)') : '');
}

async function exportProfile(deps: ProfileDeps, profile: CpuProfile, name: string, rate: number | undefined, format: 'speedscope' | 'collapsed'): Promise<void> {
  const base = name.replace(/[^\w.-]+/g, '_');
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(workspaceRoots()[0] ?? process.cwd(), format === 'speedscope' ? `${base}.speedscope.json` : `${base}.collapsed.txt`)),
    filters: format === 'speedscope' ? { speedscope: ['json'] } : { 'collapsed stacks': ['txt', 'collapsed'] },
  });
  if (!target) return;
  try {
    if (format === 'speedscope') await writeSpeedscope(target.fsPath, profile, { name, rate });
    else await writeCollapsed(target.fsPath, profile);
    vscode.window.setStatusBarMessage(vscode.l10n.t('PyFlight: profile saved to {0}', target.fsPath), 5000);
  } catch (error) {
    await showError(deps.log, 'save profile', error);
  }
}

/** Records with live updates into a flame graph panel; Stop (the notification's Cancel) keeps the samples. */
async function recordInto(deps: ProfileDeps, session: Session, options: CpuProfileOptions): Promise<void> {
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
}

async function openProfileFile(deps: ProfileDeps, uri?: vscode.Uri): Promise<void> {
  const file = uri ?? (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'collapsed stacks': ['txt', 'collapsed', 'folded'], all: ['*'] },
    title: vscode.l10n.t('Open a CPU profile (collapsed stacks: py-spy raw, flamegraph.pl)') }))?.[0];
  if (!file) return;
  try {
    const text = await fs.readFile(file.fsPath, 'utf8');
    const stacks = parseCollapsed(text);
    if (!stacks.length) {
      throw new PyFlightError(ErrorCode.BadArgument, `${path.basename(file.fsPath)} has no collapsed stacks.`,
        'Expected lines like `main (app.py:3);work (app.py:9) 42`, as py-spy --format raw or PyFlight\'s Save collapsed… write.');
    }
    const profile = buildProfile(stacks, { workspaceRoots: workspaceRoots() });
    const panel = new FlameGraphPanel(deps.extensionUri, { title: vscode.l10n.t('CPU {0}', path.basename(file.fsPath)), profile, live: false }, openSource);
    panel.onExport = (format) => void exportProfile(deps, profile, path.basename(file.fsPath), undefined, format);
  } catch (error) {
    await showError(deps.log, 'open profile', error);
  }
}

export function registerProfileCommands(context: vscode.ExtensionContext, deps: ProfileDeps): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.recordCpuProfile, async (node?: { session?: Session }) => {
      const session = node?.session ?? (await resolveSession(deps.sessions, { log: deps.log, purpose: 'profile',
        placeHolder: vscode.l10n.t('Profile which process?') }));
      if (!session) return;
      const options = await askOptions(session);
      if (options) await recordInto(deps, session, options);
    }),
    vscode.commands.registerCommand(CommandId.openProfile, (uri?: vscode.Uri) => openProfileFile(deps, uri instanceof vscode.Uri ? uri : undefined)),
  );
}
