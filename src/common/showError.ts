import * as vscode from 'vscode';
import { CommandId } from './commandIds';
import { PyFlightError } from './errors';
import type { Logger } from './logger';
import { plainText } from './plainText';

/**
 * The one place errors reach the user: logged with context, shown once with the hint as the next
 * step and a "Show Log" action. Cancellation is silent.
 */
export async function showError(log: Logger, context: string, error: unknown, ...actions: string[]): Promise<string | undefined> {
  const failure = PyFlightError.from(error);
  if (failure.code === 'CANCELLED') {
    log.info(`${context}: cancelled`);
    return undefined;
  }
  log.error(`${context}: [${failure.code}] ${failure.message}${failure.hint ? ` — ${failure.hint}` : ''}`);
  const showLog = vscode.l10n.t('Show Log');
  const sentence = /[.!?…]$/.test(failure.message) ? failure.message : `${failure.message}.`;
  const text = plainText(failure.hint ? `${sentence} ${failure.hint}` : failure.message);
  const choice = await vscode.window.showErrorMessage(text, ...actions, showLog);
  if (choice === showLog) await vscode.commands.executeCommand(CommandId.showLog);
  return choice;
}
