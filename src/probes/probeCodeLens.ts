import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import { ms } from '../format/probeText';
import { probeKind } from './probeKinds';
import type { ProbeStore } from './probeStore';

/** Above each instrumented function: live call count, last and max cost; click reveals its view. */
export class ProbeCodeLens implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly subscription: { dispose(): void };

  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: ProbeStore) {
    // Throttled, not debounced: VS Code re-debounces CodeLens requests on every change event, so a
    // hot function firing several events a second would keep the lens from ever being drawn.
    this.subscription = store.onDidChange(() => {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.changed.fire();
      }, 1000);
    });
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const lenses: vscode.CodeLens[] = [];
    const seen = new Set<number>(); // one lens per function: the newest probe (the store is newest first)
    for (const entry of this.store.all) {
      const { probe, source } = entry;
      if (!source || source.file !== document.uri.fsPath || probe.state === 'failed') continue;
      if (!probe.isActive && Date.now() - probe.startedAt > 10 * 60_000) continue; // recent results only
      const line = Math.min(Math.max(0, source.line - 1), document.lineCount - 1);
      if (seen.has(line)) continue;
      seen.add(line);
      const kind = probeKind(probe.method);
      const state = probe.isActive ? kind.activeText : kind.endedText;
      const icon = probe.isActive ? '$(pulse)' : '$(circle-slash)';
      lenses.push(new vscode.CodeLens(new vscode.Range(line, 0, line, 0), {
        title: `${icon} PyFlight ${state}: ${probe.count} calls · last ${ms(entry.lastCostMs)} · max ${ms(entry.maxCostMs)}`,
        command: `${kind.viewId}.focus`,
        tooltip: `${kind.name} ${probe.agentArgs ?? probe.location} in process ${probe.pid}`,
      }));
    }
    return lenses;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subscription.dispose();
    this.changed.dispose();
  }
}

/** "$(pulse) N probes" while anything is instrumented; click lists them with "Stop all". */
export function createProbeStatusBar(store: ProbeStore): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('pyflight.probes', vscode.StatusBarAlignment.Left, 50);
  item.name = 'PyFlight Probes';
  item.command = CommandId.showProbes;
  const update = () => {
    const n = store.active.length;
    item.text = `$(pulse) ${n} ${n === 1 ? 'probe' : 'probes'}`;
    item.tooltip = vscode.l10n.t('PyFlight: functions instrumented in running processes — click to list or stop them');
    if (n > 0) item.show();
    else item.hide();
  };
  update();
  const sub = store.onDidChange(update);
  return { dispose: () => { sub.dispose(); item.dispose(); } };
}
