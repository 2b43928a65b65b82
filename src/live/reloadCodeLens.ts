import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import type { Logger } from '../common/logger';
import type { StaleFunction } from '../protocol/helper';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import { lineOf, reloadableFunctions } from './functionIndex';
import type { ReloadArgs } from './reloadCommand';
import { affectsSetting, setting } from '../common/config';

interface Stale {
  session: Session;
  functions: StaleFunction[];
}

/**
 * "Reload in process N" above each function whose text in the saved file compiles to other code
 * than the process runs (the target compiles the file and compares code objects). Checked when a
 * Python file is opened or saved, and when a session gets its agent: one compile in the target per
 * save, never per keystroke. Only sessions that already have the agent are asked (a lens never
 * loads it). Setting `pyflight.reload.codeLens`.
 */
export class ReloadCodeLens implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly stale = new Map<string, Stale[]>();
  private readonly subscriptions: vscode.Disposable[];
  private withAgent = '';

  constructor(private readonly sessions: SessionManager, private readonly log: Logger) {
    const refreshVisible = () => { for (const e of vscode.window.visibleTextEditors) void this.refresh(e.document); };
    this.subscriptions = [
      vscode.workspace.onDidSaveTextDocument((d) => void this.refresh(d)),
      vscode.workspace.onDidOpenTextDocument((d) => void this.refresh(d)),
      vscode.workspace.onDidCloseTextDocument((d) => this.stale.delete(d.uri.toString())),
      vscode.workspace.onDidChangeConfiguration((e) => { if (affectsSetting(e, 'reload.codeLens')) refreshVisible(); }),
      // Only when the set of sessions with an agent changes (onDidChange also fires for probes).
      sessions.onDidChange(() => {
        const withAgent = sessions.live.filter((s) => s.agentLoaded).map((s) => s.pid).join(',');
        if (withAgent !== this.withAgent) {
          this.withAgent = withAgent;
          refreshVisible();
        }
      }),
      this.changed,
    ];
  }

  private get enabled(): boolean {
    return setting('reload.codeLens');
  }

  /** Asks each session with the agent which functions of this file differ from the code it runs. */
  async refresh(document: vscode.TextDocument): Promise<void> {
    if (document.languageId !== 'python' || document.uri.scheme !== 'file') return;
    const key = document.uri.toString();
    const sessions = this.enabled ? this.sessions.live.filter((s) => s.state === 'ready' && s.agentLoaded) : [];
    const found: Stale[] = [];
    await Promise.all(sessions.map(async (session) => {
      try {
        const { module } = await session.call('module', { file: document.uri.fsPath });
        const { functions } = await session.call('reloadStale', { module });
        if (functions.length) found.push({ session, functions });
      } catch {
        // Not imported by that process (or it went away): no lens from it.
      }
    }));
    const before = JSON.stringify(this.stale.get(key)?.map((s) => [s.session.pid, s.functions]) ?? []);
    if (found.length) this.stale.set(key, found);
    else this.stale.delete(key);
    if (JSON.stringify(found.map((s) => [s.session.pid, s.functions])) !== before) {
      this.log.info(`reload lens: ${document.uri.fsPath}: ${found.map((s) => `${s.session.pid}: ${s.functions.map((f) => f.function).join(', ')}`).join('; ') || 'nothing differs'}`);
      this.changed.fire();
    }
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const stale = this.stale.get(document.uri.toString());
    if (!stale || !this.enabled) return [];
    const here = reloadableFunctions(document.getText().split(/\r?\n/));
    const lenses: vscode.CodeLens[] = [];
    for (const { session, functions } of stale) {
      if (session.state !== 'ready') continue;
      for (const fn of functions) {
        const line = lineOf(here, fn.class, fn.function);
        if (line === undefined) continue;
        const args: ReloadArgs = { uri: document.uri, line, pid: session.pid };
        lenses.push(new vscode.CodeLens(new vscode.Range(line, 0, line, 0), {
          title: vscode.l10n.t('$(sync) Reload in process {0}', session.pid),
          tooltip: vscode.l10n.t('The saved file differs from the code process {0} runs for this function: show the diff and reload it', session.pid),
          command: CommandId.reloadThisFunction,
          arguments: [args],
        }));
      }
    }
    return lenses;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.stale.clear();
  }
}
