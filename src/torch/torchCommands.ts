/**
 * PyFlight: Profile PyTorch Call… and PyFlight: PyTorch Memory Snapshot. The location comes from the
 * function under the cursor (as Watch finds it) or is typed (`module [class] method`); the run waits
 * for the next call with a cancellable notification; the summary opens as a Markdown preview (text
 * only: every value from the target sits in a code block), with Reveal and Save As for the file.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../common/atomicWrite';
import { CommandId } from '../common/commandIds';
import type { Logger } from '../common/logger';
import { showError } from '../common/showError';
import { escapeMarkdown } from '../format/markdown';
import { editorTarget } from '../probes/probeTarget';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import { openTimelinePanel } from './timelinePanel';
import { traceTimeline } from './timeline';
import { freshOutputDir, profileTorchCall, torchMemoryRun, type TorchLocation } from './torchRun';
import { memorySummaryLines, profileSummaryMarkdown } from './torchText';

export interface TorchDeps {
  log: Logger;
  sessions: SessionManager;
  /** Where each run's directory is made (the extension's global storage). */
  storageDir: string;
  extensionUri: vscode.Uri;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/** `module [class] method` → a location, or the reason it is not one. */
export function parseTorchLocation(text: string): TorchLocation | string {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length < 2 || words.length > 3) return vscode.l10n.t('Type `module [class] method`, e.g. `__main__ Trainer train_step`.');
  const bad = words.find((w) => !NAME.test(w));
  if (bad) return vscode.l10n.t('"{0}" is not a Python name.', bad);
  return words.length === 2 ? { module: words[0], method: words[1] } : { module: words[0], class: words[1], method: words[2] };
}

/** A summary as Markdown: the title escaped, the body (target text) in one fenced block — shown, never interpreted. */
export function summaryMarkdown(title: string, lines: string[]): string {
  const body = lines.join('\n').replace(/`{3,}/g, (m) => m.replace(/`/g, "'"));
  return `# ${escapeMarkdown(title)}\n\n\`\`\`text\n${body}\n\`\`\`\n`;
}

async function outputDir(deps: TorchDeps, session: Session): Promise<string> {
  const base = path.join(deps.storageDir, 'torch');
  await mkdir(base, { recursive: true });
  return freshOutputDir(session.host, base);
}

async function initialLocation(session: Session): Promise<string> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'python') return '';
  try {
    const target = await editorTarget(session, editor.document, editor.selection.active);
    if (!target || target.function.nested) return '';
    return [target.module, target.function.class, target.function.method].filter(Boolean).join(' ');
  } catch {
    return ''; // the file is not imported by this process, or the agent was refused: the user types it
  }
}

/** Waits with a cancellable notification; resolves undefined when cancelled. */
function withWaiting<T>(title: string, waitingFor: string | undefined, run: (signal: AbortSignal, onWaiting: () => void) => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, cancellable: true, title }, (progress, token) => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    progress.report({ message: vscode.l10n.t('preparing…') });
    return run(abort.signal, () => {
      if (waitingFor) progress.report({ message: vscode.l10n.t('waiting for the next call of {0}…', waitingFor) });
    });
  });
}

async function revealFile(file: string): Promise<void> {
  await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(file));
}

async function saveFileAs(deps: TorchDeps, file: string): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? path.dirname(file);
  const to = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(folder, path.basename(file))) });
  if (!to) return;
  await copyFile(file, to.fsPath);
  deps.log.info(`torch: saved ${file} as ${to.fsPath}`);
}

/** The summary as a Markdown preview next to the file, then Reveal / Save As (and `more`, e.g. Open Timeline). */
async function showResult(deps: TorchDeps, file: string, title: string, markdown: string,
  more: Record<string, () => Promise<void> | void> = {}): Promise<void> {
  // One summary per result, named after it: a second profile must not rewrite the first one's preview.
  const summaryFile = path.join(path.dirname(file), `${path.basename(file, path.extname(file))}.summary.md`);
  await writeFileAtomic(summaryFile, markdown);
  await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(summaryFile));
  const reveal = vscode.l10n.t('Reveal File');
  const save = vscode.l10n.t('Save As…');
  const choice = await vscode.window.showInformationMessage(vscode.l10n.t('{0}: {1}', title, path.basename(file)), ...Object.keys(more), reveal, save);
  if (choice === reveal) await revealFile(file);
  else if (choice === save) await saveFileAs(deps, file);
  else if (choice) await more[choice]();
}

async function profileCall(deps: TorchDeps, uri?: vscode.Uri): Promise<void> {
  const file = uri?.fsPath ?? vscode.window.activeTextEditor?.document.uri.fsPath;
  const session = await deps.sessions.resolve( { purpose: 'torch profile', file,
    placeHolder: vscode.l10n.t('Which process runs the model?') });
  if (!session) return;
  const typed = await vscode.window.showInputBox({
    title: vscode.l10n.t('PyFlight: Profile PyTorch Call in {0}', session.label),
    prompt: vscode.l10n.t('module [class] method: its next call is profiled with torch.profiler (CPU, and CUDA where present)'),
    value: await initialLocation(session),
    placeHolder: '__main__ Trainer train_step',
    validateInput: (v) => { const r = parseTorchLocation(v); return typeof r === 'string' ? r : undefined; },
  });
  if (typed === undefined) return;
  const where = parseTorchLocation(typed) as TorchLocation;
  const label = typed.trim().split(/\s+/).join(' ');
  try {
    const dir = await outputDir(deps, session);
    const run = await withWaiting(vscode.l10n.t('PyFlight: torch profile of {0}', label), label,
      (signal, onWaiting) => profileTorchCall(session, where, { outputDir: dir, signal, onWaiting }));
    deps.log.info(`torch profile ${session.pid} ${label}: ${run.result.file}`);
    const title = vscode.l10n.t('torch profile of {0}', label);
    const file = run.result.file;
    await showResult(deps, file, title, profileSummaryMarkdown(run.result, run.summary, label), {
      [vscode.l10n.t('Open Timeline')]: async () => {
        const trace: unknown = JSON.parse(await readFile(file, 'utf8'));
        openTimelinePanel(deps.extensionUri, traceTimeline(trace, title, path.basename(file)),
          { reveal: () => void revealFile(file), saveAs: () => void saveFileAs(deps, file) });
      },
    });
  } catch (error) {
    await showError(deps.log, `torch profile ${session.pid} ${label}`, error);
  }
}

async function memorySnapshot(deps: TorchDeps): Promise<void> {
  const session = await deps.sessions.resolve( { purpose: 'torch memory',
    placeHolder: vscode.l10n.t('Which process runs the model?') });
  if (!session) return;
  try {
    const dir = await outputDir(deps, session);
    const result = await withWaiting(vscode.l10n.t('PyFlight: torch memory snapshot of {0}', session.label), undefined,
      (signal) => torchMemoryRun(session, {}, { outputDir: dir, signal }));
    const title = vscode.l10n.t('torch memory snapshot of {0}', session.label);
    await showResult(deps, result.file, title, summaryMarkdown(title, memorySummaryLines(result, 'snapshot')));
  } catch (error) {
    await showError(deps.log, `torch memory ${session.pid}`, error);
  }
}

export function registerTorchCommands(context: vscode.ExtensionContext, deps: TorchDeps): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.profileTorchCall, (uri?: unknown) => profileCall(deps, uri instanceof vscode.Uri ? uri : undefined)),
    vscode.commands.registerCommand(CommandId.torchMemorySnapshot, () => memorySnapshot(deps)),
  );
}
