import * as vscode from 'vscode';
import type { Session } from '../session/session';
import type { WorkerGroup } from '../session/workerGroup';
import { setting, updateSetting } from '../common/config';

/**
 * Asked once per process before the PyFlightProfiler agent is loaded into it: attaching alone
 * reads stacks from outside and changes nothing; the agent stays in the target until it exits.
 */
export function confirmAgentLoad(session: Session): Promise<boolean> {
  // The process by its script and pid, and its command line: with two services from one folder, a pid alone did not say which.
  return ask(vscode.l10n.t('Load the PyFlightProfiler agent into {0}?', session.label),
    `${processLine(session)}\n\n${vscode.l10n.t('This command runs inside the process. The agent stays until the process exits: a few '
      + 'threads and a port on 127.0.0.1 (16000–16500) that any local user who can reach it may use to run code in '
      + 'the process. Stacks need no agent.')}`);
}

/** "Process 1234: python checkout.py --port 8001", cut to a line. */
function processLine(session: Session): string {
  const argv = session.preflightResult?.facts.argv ?? [];
  const command = argv.join(' ');
  return vscode.l10n.t('Process {0}: {1}', session.pid, command.length > 160 ? `${command.slice(0, 159)}…` : command || session.label);
}

/** Once for every worker of a server, those it starts later included. */
export function confirmAgentLoadForWorkers(group: WorkerGroup): Promise<boolean> {
  return ask(vscode.l10n.t('Load the PyFlightProfiler agent into all {0} workers of {1}?', group.workers.length, group.label),
    vscode.l10n.t('The command runs inside every worker, and in workers the server starts later. The agent stays in each '
      + 'until it exits: a few threads and a port on 127.0.0.1 (16000–16500) that any local user who can reach it may use '
      + 'to run code in the process. Stacks need no agent.'));
}

async function ask(message: string, detail: string): Promise<boolean> {
  if (!setting('confirmAgentLoad')) return true;
  const load: vscode.MessageItem = { title: vscode.l10n.t('Load Agent') };
  const always: vscode.MessageItem = { title: vscode.l10n.t("Load, Don't Ask Again") };
  const cancel: vscode.MessageItem = { title: vscode.l10n.t('Cancel'), isCloseAffordance: true };
  const choice = await vscode.window.showWarningMessage(message, { modal: true, detail }, load, always, cancel);
  if (choice === always) await updateSetting('confirmAgentLoad', false);
  return choice === load || choice === always;
}
