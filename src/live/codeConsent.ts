import * as vscode from 'vscode';
import type { Session } from '../session/session';
import { setting, updateSetting } from '../common/config';

const approved = new WeakSet<Session>();

/**
 * Asked the first time code typed by the user runs in a process (console, Evaluate): it runs in
 * the live process, with its side effects. Once per session; setting `pyflight.confirmCodeExecution`.
 * Throws CODE_EXECUTION_OFF (callers show it) where the agent refuses code.
 */
export async function confirmCodeExecution(session: Session, what: string, code?: string): Promise<boolean> {
  session.requireCodeExecution(what); // code execution off: CODE_EXECUTION_OFF, before asking anything
  if (approved.has(session)) return true;
  if (!setting('confirmCodeExecution')) return true;
  const run: vscode.MessageItem = { title: vscode.l10n.t('Run in Process') };
  const always: vscode.MessageItem = { title: vscode.l10n.t("Run, Don't Ask Again") };
  const cancel: vscode.MessageItem = { title: vscode.l10n.t('Cancel'), isCloseAffordance: true };
  const choice = await vscode.window.showWarningMessage(
    vscode.l10n.t('Run code inside process {0}?', session.pid),
    { modal: true, detail: (code ? `${codePreview(code)}\n\n` : '') + vscode.l10n.t('{0} runs Python inside the live process {1}: in its memory, with its '
      + 'imports and its side effects (writes, network calls, locks). It is not sandboxed. You are asked once per process.',
    what, session.label) },
    run, always, cancel);
  if (choice === always) await updateSetting('confirmCodeExecution', false);
  if (choice !== run && choice !== always) return false;
  approved.add(session);
  return true;
}

/** The code about to run, as the dialog shows it: its first lines, shortened. */
export function codePreview(code: string, maxLines = 6, maxChars = 400): string {
  const lines = code.trim().split(/\r?\n/);
  let shown = lines.slice(0, maxLines).join('\n');
  if (shown.length > maxChars) shown = `${shown.slice(0, maxChars - 1)}…`;
  else if (lines.length > maxLines) shown += '\n…';
  return shown;
}
