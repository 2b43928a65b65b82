import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import { hotLenses, lineDecorations, lineHeatOf, type HeatLevel, type LineHeat } from './lineHeat';
import type { KeptProfile, ProfileStore } from './profileStore';
import { affectsSetting, setting, updateSetting } from '../common/config';

function workspaceRoots(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
}

function enabled(): boolean {
  return setting('profile.showInEditor');
}

/**
 * The latest CPU profile in the editor: an end-of-line hint on every line with samples ("▮▮ 12%
 * self"; the background warms with the share), a CodeLens on hot functions ("12% of CPU · open
 * flame graph") and a status bar item that turns both off or on (setting pyflight.profile.showInEditor).
 * Only files under the workspace folders. Colours are contributed theme colours (light, dark, high contrast).
 */
export class ProfileEditorHeat implements vscode.CodeLensProvider, vscode.Disposable {
  private active: KeptProfile | undefined;
  private heat: LineHeat = new Map();
  private readonly types: Map<HeatLevel, vscode.TextEditorDecorationType>;
  private readonly status: vscode.StatusBarItem;
  private readonly lensChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensChanged.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(store: ProfileStore) {
    const type = (background: string | undefined) => vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      ...(background ? { backgroundColor: new vscode.ThemeColor(background) } : {}),
      overviewRulerColor: background ? new vscode.ThemeColor('pyflight.profileHeat.foreground') : undefined,
      overviewRulerLane: vscode.OverviewRulerLane.Right,
      after: { color: new vscode.ThemeColor('pyflight.profileHeat.foreground'), margin: '0 0 0 2em', fontStyle: 'normal' },
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    this.types = new Map<HeatLevel, vscode.TextEditorDecorationType>([
      [1, type(undefined)], [2, type('pyflight.profileHeat.warmBackground')],
      [3, type('pyflight.profileHeat.hotBackground')], [4, type('pyflight.profileHeat.hottestBackground')],
    ]);
    this.status = vscode.window.createStatusBarItem('pyflight.profileHeat', vscode.StatusBarAlignment.Left, 49);
    this.status.name = vscode.l10n.t('PyFlight CPU Profile in the Editor');
    this.status.command = CommandId.toggleProfileHeat;
    this.disposables.push(
      ...this.types.values(), this.status, this.lensChanged,
      vscode.window.onDidChangeVisibleTextEditors(() => this.applyAll()),
      vscode.workspace.onDidChangeConfiguration((e) => { if (affectsSetting(e, 'profile.showInEditor')) this.refresh(); }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.show(this.active)),
      { dispose: store.onDidChange(() => { if (this.active && !store.get(this.active.id)) this.show(store.latest); }).dispose },
    );
  }

  /** Shows `profile` in the editor (the latest recorded or reopened one). */
  show(profile: KeptProfile | undefined): void {
    this.active = profile;
    this.heat = profile ? lineHeatOf(profile.profile, workspaceRoots()) : new Map();
    this.refresh();
  }

  get activeProfile(): KeptProfile | undefined {
    return this.active;
  }

  private refresh(): void {
    this.applyAll();
    this.lensChanged.fire();
    if (!this.active || !this.heat.size) {
      this.status.hide();
      return;
    }
    const on = enabled();
    this.status.text = on ? `$(flame) CPU ${this.active.profile.samples} samples` : '$(flame) CPU heat off';
    this.status.tooltip = on
      ? vscode.l10n.t('Per-line CPU of {0} in the editor. Click to hide (setting pyflight.profile.showInEditor).', this.active.label)
      : vscode.l10n.t('Click to show per-line CPU of {0} in the editor.', this.active.label);
    this.status.show();
  }

  private applyAll(): void {
    for (const editor of vscode.window.visibleTextEditors) this.apply(editor);
  }

  private apply(editor: vscode.TextEditor): void {
    const byLevel = new Map<HeatLevel, vscode.DecorationOptions[]>([[1, []], [2, []], [3, []], [4, []]]);
    if (this.active && enabled() && editor.document.uri.scheme === 'file') {
      const lines = this.heat.get(editor.document.uri.fsPath);
      for (const d of lineDecorations(lines, this.active.profile.samples)) {
        if (d.line >= editor.document.lineCount) continue;
        const end = editor.document.lineAt(d.line).range.end;
        byLevel.get(d.level)!.push({ range: new vscode.Range(end, end), hoverMessage: d.hover, renderOptions: { after: { contentText: d.text } } });
      }
    }
    for (const [level, options] of byLevel) editor.setDecorations(this.types.get(level)!, options);
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    if (!this.active || !enabled() || document.uri.scheme !== 'file' || !this.heat.has(document.uri.fsPath)) return [];
    const lines = document.getText().split(/\r?\n/);
    const kept = this.active;
    return hotLenses(kept.profile.hot, document.uri.fsPath, lines, kept.profile.samples).map((lens) => {
      const range = new vscode.Range(lens.line, 0, lens.line, 0);
      return new vscode.CodeLens(range, { title: lens.title, command: CommandId.openKeptProfile,
        arguments: [{ kind: 'profile', profile: kept }], tooltip: vscode.l10n.t('{0}: open the flame graph of this profile', lens.function) });
    });
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** Turns the editor heat off or on (the setting, in the user's settings). */
export async function toggleProfileHeat(): Promise<void> {
  await updateSetting('profile.showInEditor', !enabled());
}
