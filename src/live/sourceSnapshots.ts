import * as vscode from 'vscode';

const KEEP = 4;

/**
 * The texts of each Python file as it was on disk when opened and after each save (the last few):
 * candidates for "the source of the code the target runs now", which the target checks by
 * compiling them. Python keeps only bytecode, so after the file is saved with the edit, this is
 * where the old text for Reload's diff comes from.
 */
export class SourceSnapshots implements vscode.Disposable {
  private readonly texts = new Map<string, string[]>();
  private readonly subscriptions: vscode.Disposable[];

  constructor() {
    for (const document of vscode.workspace.textDocuments) this.remember(document);
    this.subscriptions = [
      vscode.workspace.onDidOpenTextDocument((d) => this.remember(d)),
      vscode.workspace.onDidSaveTextDocument((d) => this.remember(d)),
      vscode.workspace.onDidCloseTextDocument((d) => this.texts.delete(d.uri.toString())),
    ];
  }

  of(uri: vscode.Uri): string[] {
    return [...(this.texts.get(uri.toString()) ?? [])];
  }

  private remember(document: vscode.TextDocument): void {
    if (document.languageId !== 'python' || document.uri.scheme !== 'file' || document.isDirty) return;
    const key = document.uri.toString();
    const text = document.getText();
    const list = (this.texts.get(key) ?? []).filter((t) => t !== text);
    list.unshift(text);
    this.texts.set(key, list.slice(0, KEEP));
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.texts.clear();
  }
}
