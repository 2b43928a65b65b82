import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MemoryView, MemTableRow, FromWebview, SnapshotInfo } from '../../webview/shared/memoryProtocol';
import { writeFileAtomic } from '../common/atomicWrite';
import { CommandId } from '../common/commandIds';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { plainText } from '../common/plainText';
import { showError } from '../common/showError';
import type { MemDiffResult, MemSummaryResult } from '../protocol/helper';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import { compareSummaries, diffRows, instancesCommand, isDiffBookkeeping, toCsv, topGrowers, type MemDeltaRow } from './memModel';
import { MemoryPanel } from './memoryPanel';
import { censusProgressText, containersHolding, explainedText, growthOf, isOwner, ownsEachText, rankedRows, statsText } from './census';
import { setting } from '../common/config';

export interface MemoryDeps {
  log: Logger;
  sessions: SessionManager;
  extensionUri: vscode.Uri;
}

interface Snapshot {
  id: number;
  result: MemSummaryResult | MemDiffResult;
}

type Shown = { snapshot: number } | { from: number; to: number };

/** What PyFlight keeps per session: every snapshot (in memory, until the session ends), the panel, a diff in progress. */
interface SessionMemory {
  session: Session;
  snapshots: Snapshot[];
  shown?: Shown;
  panel?: MemoryPanel;
  busy?: { label: string; waitingUntil?: number; progress?: string; abort: AbortController };
}

const GROWERS = 10;
let nextId = 1;

function settings(): { interval: number; limit: number } {
  return { interval: setting('memory.diffIntervalSeconds'), limit: setting('memory.limit') };
}

const clock = (ms: number) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false });

function snapshotLabel(s: Snapshot): string {
  return s.result.kind === 'summary' ? vscode.l10n.t('Summary {0} · top {1}', clock(s.result.capturedAt), s.result.limit)
    : vscode.l10n.t('Diff {0} s · {1}', s.result.intervalSeconds, clock(s.result.capturedAt));
}

/** A census diff's rows for the webview: ranked by what the user owns, with what each holds and what holds them. */
function censusRows(result: MemDiffResult, pid: number): MemTableRow[] {
  const rows = rankedRows(result);
  const growers = new Set(rows.filter((r) => growthOf(r) > 0).slice(0, GROWERS).map((r) => r.type));
  return rows.map((r) => {
    const holders = containersHolding(result, r.type).map((c) => c.path);
    const heldBy = holders.length ? holders.slice(0, 2).join(', ') : explainedText(r);
    const owns = ownsEachText(r);
    return { type: r.type, count: r.count, size: r.size, sizeApprox: false, growth: growthOf(r), owner: isOwner(r),
      ...(owns ? { owns: `each holds ${owns}` } : {}), ...(heldBy ? { heldBy } : {}),
      instances: growers.has(r.type) && r.count > 0 ? instancesCommand(r.type, pid) : undefined };
  });
}

/** Rows for the webview: list/str flagged in a diff; the biggest growers (not those) say how to list their instances. */
function decorate(rows: MemDeltaRow[], pid: number, diff: boolean, deltas: boolean): MemTableRow[] {
  const growers = new Set(deltas ? topGrowers(rows, GROWERS).map((r) => r.type) : []);
  return rows.map((r) => {
    const bookkeeping = diff && isDiffBookkeeping(r.type);
    return { ...r, bookkeeping: bookkeeping || undefined,
      instances: growers.has(r.type) && !bookkeeping && r.count > 0 ? instancesCommand(r.type, pid) : undefined };
  });
}

export class MemoryController implements vscode.Disposable {
  private readonly bySession = new Map<Session, SessionMemory>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly deps: MemoryDeps) {
    this.disposables.push(deps.sessions.onDidChange(() => this.onSessionsChanged()));
  }

  private memoryOf(session: Session): SessionMemory {
    let mem = this.bySession.get(session);
    if (!mem) {
      mem = { session, snapshots: [] };
      this.bySession.set(session, mem);
    }
    return mem;
  }

  private onSessionsChanged(): void {
    for (const [session, mem] of this.bySession) {
      if (!session.isFinal) continue;
      mem.busy?.abort.abort();
      if (mem.panel) mem.panel.update();
      else this.bySession.delete(session);
    }
  }

  private open(mem: SessionMemory): void {
    if (mem.panel) {
      mem.panel.update();
      mem.panel.reveal();
      return;
    }
    const panel = new MemoryPanel(this.deps.extensionUri, vscode.l10n.t('Memory {0}', mem.session.label), () => this.view(mem), (m) => this.onMessage(mem, m));
    mem.panel = panel;
    panel.onDidDispose(() => {
      mem.panel = undefined;
      if (mem.session.isFinal) this.bySession.delete(mem.session);
    });
  }

  private refresh(mem: SessionMemory): void {
    mem.panel?.update();
  }

  /** mem summary into a new snapshot, shown in the panel. */
  async summary(session: Session): Promise<void> {
    const mem = this.memoryOf(session);
    this.open(mem);
    const { limit } = settings();
    const abort = new AbortController();
    try {
      const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, cancellable: true,
        title: vscode.l10n.t('PyFlight: memory summary of {0}', session.label) }, (progress, token) => {
        token.onCancellationRequested(() => abort.abort());
        progress.report({ message: vscode.l10n.t('a census of the heap (in slices: the process keeps running)…') });
        let done = 0;
        return session.call('memSummary', { limit }, { signal: abort.signal, onProgress: (stage, detail) => {
          const text = censusProgressText(stage, detail);
          const percent = Number((detail ?? '').split(' ')[1]);
          if (!text || !(percent >= done)) return;
          progress.report({ increment: percent - done, message: text });
          done = percent;
        } });
      });
      this.add(mem, result);
    } catch (error) {
      const failure = PyFlightError.from(error);
      if (failure.code === ErrorCode.Cancelled && abort.signal.aborted) this.deps.log.info(`memory summary ${session.pid}: ${failure.message}`);
      else await showError(this.deps.log, `memory summary ${session.pid}`, failure);
    }
  }

  /** Asks the interval (default: the setting), then runs mem diff with a cancellable notification. */
  async diff(session: Session, intervalSeconds?: number): Promise<void> {
    const mem = this.memoryOf(session);
    this.open(mem);
    if (mem.busy) return;
    const { interval: defaultInterval, limit } = settings();
    let interval = intervalSeconds;
    if (interval === undefined) {
      const text = await vscode.window.showInputBox({
        title: vscode.l10n.t('PyFlight: Memory Diff of {0}', session.label),
        prompt: vscode.l10n.t('Seconds between the two heap snapshots (setting pyflight.memory.diffIntervalSeconds)'),
        value: String(defaultInterval),
        validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 3600 ? undefined : vscode.l10n.t('A whole number of seconds, 1 to 3600.')),
      });
      if (text === undefined) return;
      interval = Number(text.trim());
    }
    const abort = new AbortController();
    const busy: NonNullable<SessionMemory['busy']> = { label: vscode.l10n.t('Diff over {0} s', interval), abort };
    mem.busy = busy;
    this.refresh(mem);
    let timer: NodeJS.Timeout | undefined;
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, cancellable: true,
        title: vscode.l10n.t('PyFlight: memory diff of {0}', session.label) }, async (progress, token) => {
        token.onCancellationRequested(() => abort.abort());
        progress.report({ message: vscode.l10n.t('first census of the heap (in slices: the process keeps running)…') });
        // The bar: the first census 0–40 %, the wait 40–60 %, the second census 60–100 %.
        let done = 0;
        const advance = (to: number, message: string) => {
          progress.report({ increment: Math.max(0, to - done), message });
          done = Math.max(done, to);
        };
        try {
          const result = await session.call('memDiff', { interval, limit: Math.max(limit, 100) }, { signal: abort.signal,
            onProgress: (stage, detail) => {
              const text = censusProgressText(stage, detail);
              if (!text) return;
              const [label, percent] = (detail ?? '').split(' ');
              busy.progress = text;
              if (timer) clearInterval(timer);
              timer = undefined;
              busy.waitingUntil = undefined;
              this.refresh(mem);
              advance(label === 'second' ? 60 + 0.4 * Number(percent) : 0.4 * Number(percent), text);
            },
            onWaiting: (seconds) => {
              busy.waitingUntil = Date.now() + seconds * 1000;
              busy.progress = undefined;
              this.refresh(mem);
              let left = seconds;
              advance(40, vscode.l10n.t('second census in {0} s', left));
              timer = setInterval(() => {
                left = Math.max(0, left - 1);
                advance(40 + 20 * (seconds - left) / seconds, left ? vscode.l10n.t('second census in {0} s', left) : vscode.l10n.t('second census…'));
              }, 1000);
            } });
          this.add(mem, result);
        } catch (error) {
          const failure = PyFlightError.from(error);
          if (failure.code === ErrorCode.Cancelled && abort.signal.aborted && !session.isFinal) {
            // Cancelling returns at once, and the census stops in the process too.
            this.deps.log.info(`memory diff ${session.pid}: ${failure.message}`);
            void vscode.window.showInformationMessage(plainText(`${failure.message} ${failure.hint ?? ''}`.trim()));
          } else {
            void showError(this.deps.log, `memory diff ${session.pid}`, failure);
          }
        }
      });
    } finally {
      if (timer) clearInterval(timer);
      if (mem.busy === busy) mem.busy = undefined;
      this.refresh(mem);
    }
  }

  private add(mem: SessionMemory, result: MemSummaryResult | MemDiffResult): void {
    const snapshot = { id: nextId++, result };
    mem.snapshots.push(snapshot);
    mem.shown = { snapshot: snapshot.id };
    this.deps.log.info(`memory ${mem.session.pid}: ${result.kind} ${result.args}, ${result.rows.length} rows, top ${result.rows[0]?.type ?? '-'}`);
    this.open(mem);
  }

  private onMessage(mem: SessionMemory, message: FromWebview): void {
    switch (message.type) {
      case 'summary':
        void this.summary(mem.session);
        return;
      case 'diff':
        void this.diff(mem.session);
        return;
      case 'cancel':
        mem.busy?.abort.abort();
        return;
      case 'show':
        if (mem.snapshots.some((s) => s.id === message.id)) mem.shown = { snapshot: message.id };
        this.refresh(mem);
        return;
      case 'compare':
        if (message.from !== message.to) mem.shown = { from: message.from, to: message.to };
        this.refresh(mem);
        return;
      case 'exportCsv':
        void this.exportCsv(mem);
        return;
      case 'instances':
        void vscode.commands.executeCommand(CommandId.showInstances, { pid: mem.session.pid, module: message.module, class: message.class });
        return;
      case 'copy':
        void vscode.env.clipboard.writeText(message.text).then(() => vscode.window.setStatusBarMessage(vscode.l10n.t('PyFlight: copied'), 3000));
        return;
    }
  }

  /** The rows on screen (deltas or not), and how to say what they are. */
  private shownRows(mem: SessionMemory): { rows: MemTableRow[]; deltas: boolean; kind: 'summary' | 'diff' | 'compare'; caption: string; note?: string; name: string } | undefined {
    const shown = mem.shown;
    if (!shown) return undefined;
    const pid = mem.session.pid;
    if ('snapshot' in shown) {
      const s = mem.snapshots.find((x) => x.id === shown.snapshot);
      if (!s) return undefined;
      if (s.result.kind === 'summary') {
        return { kind: 'summary', deltas: false, rows: decorate(s.result.rows, pid, false, false), name: `summary-${s.id}`,
          caption: vscode.l10n.t('Summary at {0}: the {1} biggest types', clock(s.result.capturedAt), s.result.rows.length),
          note: s.result.engine === 'pympler' ? vscode.l10n.t('Each summary walks the whole heap in the process. Sizes marked ~ are read back from pympler\'s KB/MB text. Take another summary later and Compare the two.')
            : vscode.l10n.t('A census of the heap, in slices (the process keeps running); objects the collector does not track are counted through their containers. Take another summary later and Compare the two. {0}', statsText(s.result.census ? [s.result.census] : undefined) ?? '') };
      }
      if (s.result.engine === 'census') {
        const stats = statsText(s.result.census);
        return { kind: 'diff', deltas: true, rows: censusRows(s.result, pid), name: `diff-${s.id}`,
          caption: vscode.l10n.t('What changed in {0} s (from {1})', s.result.intervalSeconds, clock(s.result.capturedAt)),
          note: vscode.l10n.t('Ranked by what your code owns: a class with what its instances hold alone ("Δ owned"), a built-in type by the growth no class explains; sort by Δ size for the raw types. Changed types only. {0}', stats ?? '') };
      }
      return { kind: 'diff', deltas: true, rows: decorate(diffRows(s.result), pid, true, true), name: `diff-${s.id}`,
        caption: vscode.l10n.t('What changed in {0} s (from {1})', s.result.intervalSeconds, clock(s.result.capturedAt)),
        note: vscode.l10n.t('list and str always grow in a diff: pympler\'s own first snapshot (a list and a name per type) is alive while the second is taken. Biggest size change first; {0} rows.', s.result.rows.length) };
    }
    const [a, b] = [shown.from, shown.to].map((id) => mem.snapshots.find((x) => x.id === id)?.result);
    if (a?.kind !== 'summary' || b?.kind !== 'summary') return undefined;
    const [earlier, later] = a.capturedAt <= b.capturedAt ? [a, b] : [b, a];
    return { kind: 'compare', deltas: true, rows: decorate(compareSummaries(earlier, later), pid, false, true), name: 'comparison',
      caption: vscode.l10n.t('Summary {0} minus summary {1} ({2} s apart)', clock(later.capturedAt), clock(earlier.capturedAt), Math.round((later.capturedAt - earlier.capturedAt) / 1000)),
      note: vscode.l10n.t('Each summary has only its top types: a type in one of them only is marked "one side only" (its delta is a bound).') };
  }

  private view(mem: SessionMemory): MemoryView {
    const shown = this.shownRows(mem);
    const snapshots: SnapshotInfo[] = mem.snapshots.map((s) => ({ id: s.id, kind: s.result.kind, label: snapshotLabel(s) }));
    return {
      title: vscode.l10n.t('Memory {0}', mem.session.label),
      pid: mem.session.pid,
      live: mem.session.state === 'ready',
      shown: shown && { kind: shown.kind, caption: shown.caption, deltas: shown.deltas,
        note: mem.session.state === 'ready' ? shown.note : vscode.l10n.t('The session ended: these snapshots are what was taken before.') },
      rows: shown?.rows ?? [],
      growers: shown?.deltas ? (shown.rows.some((r) => r.growth !== undefined)
        ? shown.rows.filter((r) => (r.growth ?? 0) > 0).slice(0, GROWERS) : topGrowers(shown.rows, GROWERS) as MemTableRow[]) : [],
      snapshots,
      selected: mem.shown && 'snapshot' in mem.shown ? mem.shown.snapshot : undefined,
      compared: mem.shown && 'from' in mem.shown ? { from: mem.shown.from, to: mem.shown.to } : undefined,
      busy: mem.busy && { label: mem.busy.label, waitingUntil: mem.busy.waitingUntil, progress: mem.busy.progress },
    };
  }

  private async exportCsv(mem: SessionMemory): Promise<void> {
    const shown = this.shownRows(mem);
    if (!shown) return;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(folder, `memory-${mem.session.pid}-${shown.name}.csv`)),
      filters: { CSV: ['csv'] },
    });
    if (!target) return;
    try {
      await writeFileAtomic(target.fsPath, toCsv(shown.rows, shown.deltas));
      vscode.window.setStatusBarMessage(vscode.l10n.t('PyFlight: memory table saved to {0}', target.fsPath), 5000);
    } catch (error) {
      await showError(this.deps.log, 'save memory CSV', error);
    }
  }

  dispose(): void {
    for (const mem of this.bySession.values()) {
      mem.busy?.abort.abort();
      mem.panel?.dispose();
    }
    this.bySession.clear();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

export function registerMemoryCommands(context: vscode.ExtensionContext, deps: MemoryDeps): void {
  const controller = new MemoryController(deps);
  const pick = async (node: { session?: Session } | undefined) => node?.session ?? (await deps.sessions.resolve(
    { purpose: 'memory', placeHolder: vscode.l10n.t('Memory of which process?') }));
  context.subscriptions.push(
    controller,
    vscode.commands.registerCommand(CommandId.memorySummary, async (node?: { session?: Session }) => {
      const session = await pick(node);
      if (session) await controller.summary(session);
    }),
    vscode.commands.registerCommand(CommandId.memoryDiff, async (node?: { session?: Session }) => {
      const session = await pick(node);
      if (session) await controller.diff(session);
    }),
  );
}
