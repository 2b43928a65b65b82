import * as vscode from 'vscode';
import { CommandId, ViewId } from '../common/commandIds';
import { readConfig } from '../common/config';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { showError } from '../common/showError';
import { installFlightProfiler, FLIGHT_PROFILER_REQUIREMENT } from '../preflight/installProfiler';
import { listProcesses } from '../processes/processLister';
import { pickProcess } from '../processes/processPicker';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';

export interface AttachDeps {
  log: Logger;
  sessions: SessionManager;
}

/** Attach with a cancellable progress notification; offers to install flight-profiler when missing. */
export async function attachToPid(deps: AttachDeps, pid: number): Promise<Session | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const session = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('PyFlight: attaching to process {0}', pid), cancellable: true },
        (progress, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          return deps.sessions.attach(pid, (message) => progress.report({ message }), abort.signal);
        },
      );
      void vscode.commands.executeCommand(`${ViewId.sessions}.focus`);
      vscode.window.setStatusBarMessage(vscode.l10n.t('$(debug-alt) PyFlight attached to {0}', session.label), 5000);
      return session;
    } catch (error) {
      const failure = PyFlightError.from(error);
      const python = failure.details?.python;
      if (failure.code === ErrorCode.ProfilerNotInstalled && typeof python === 'string' && attempt === 0) {
        const install = vscode.l10n.t('Install flight-profiler into {0}', python);
        const choice = await showError(deps.log, `attach ${pid}`, failure, install);
        if (choice !== install || !(await installWithProgress(deps, python))) return undefined;
        continue; // installed: attach again
      }
      await showError(deps.log, `attach ${pid}`, failure);
      return undefined;
    }
  }
  return undefined;
}

async function installWithProgress(deps: AttachDeps, python: string): Promise<boolean> {
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Installing {0}', FLIGHT_PROFILER_REQUIREMENT), cancellable: true },
      (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return installFlightProfiler(python, deps.log, (line) => progress.report({ message: line.slice(0, 120) }), abort.signal);
      },
    );
    return true;
  } catch (error) {
    await showError(deps.log, 'install flight-profiler', error);
    return false;
  }
}

export function registerAttachCommands(context: vscode.ExtensionContext, deps: AttachDeps): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.attach, async (pidArg?: number | string) => {
      let pid = pidArg === undefined ? undefined : Number(pidArg);
      if (pid === undefined) {
        pid = await pickProcess({ list: () => listProcesses({ log: deps.log }), showAllProcesses: readConfig().showAllProcesses, log: deps.log });
        if (pid === undefined) return undefined;
      }
      return attachToPid(deps, pid);
    }),
    vscode.commands.registerCommand(CommandId.detach, async (node?: { session?: Session }) => {
      const session = node?.session ?? (await pickSession(deps.sessions, vscode.l10n.t('Detach from which process?'), true));
      if (session) await deps.sessions.detach(session);
    }),
  );
}

/** The session a command should act on: the clicked one, the only one, or the user's pick. */
export async function pickSession(sessions: SessionManager, placeHolder: string, includeEnded = false): Promise<Session | undefined> {
  const candidates = sessions.all.filter((s) => includeEnded || s.state === 'ready');
  if (candidates.length === 0) {
    // Nothing attached yet: go straight to the process picker, then carry on with the command.
    if (includeEnded) return undefined;
    return (await vscode.commands.executeCommand<Session | undefined>(CommandId.attach)) ?? undefined;
  }
  if (candidates.length === 1) return candidates[0];
  const picked = await vscode.window.showQuickPick(
    candidates.map((s) => ({ label: s.label, description: s.state, session: s })),
    { placeHolder },
  );
  return picked?.session;
}
