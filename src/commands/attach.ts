import * as vscode from 'vscode';
import { CommandId, ViewId } from '../common/commandIds';
import { setting } from '../common/config';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { showError } from '../common/showError';
import { untestedWarning } from '../preflight/capabilities';
import { installFlightProfiler, FLIGHT_PROFILER_REQUIREMENT } from '../preflight/installProfiler';
import { ensureReader } from '../preflight/readerVenv';
import { listProcesses } from '../processes/processLister';
import { pickAttachTarget } from '../processes/processPicker';
import { sessionStatusText } from '../session/sessionText';
import type { Session } from '../session/session';
import type { SessionChooser, SessionManager } from '../session/sessionManager';
import type { WorkerGroup } from '../session/workerGroup';
import type { SessionNode, WorkerGroupNode } from '../views/sessionsView';

export interface AttachDeps {
  log: Logger;
  sessions: SessionManager;
}

/**
 * What to do with the Stacks view once attached: `focus` reads the new process's stacks and shows
 * them (attaching from the picker / a pid); `background` reads them into the view without taking
 * the focus (a command that attached on its way, e.g. Watch, has its own input box open); `none`
 * leaves it (Show Stacks, which reads them itself).
 */
export type StacksAfterAttach = 'focus' | 'background' | 'none';

/** The second argument of the attach command (the first is a pid). */
export interface AttachCommandOptions {
  stacks?: StacksAfterAttach;
}

/** The options Show Stacks takes after its Sessions-view node (see commands/stacks.ts). */
export interface ShowStacksOptions {
  preserveFocus?: boolean;
  /** Resolve once the stacks are read (or failed), without waiting for an error message's answer. */
  dontAwaitErrors?: boolean;
}

/**
 * Awaited before attach returns: the Stacks view takes the focus (when it does) before whatever
 * the user or the command does next, rather than closing their Quick Open a moment later.
 */
async function showStacksAfterAttach(session: Session, stacks: StacksAfterAttach): Promise<void> {
  if (stacks === 'none') return;
  const node: SessionNode = { kind: 'session', session };
  const options: ShowStacksOptions = { preserveFocus: stacks === 'background', dontAwaitErrors: true };
  await vscode.commands.executeCommand(CommandId.showStacks, node, options);
}

/** Attach with a cancellable progress notification; offers to install flight-profiler when missing. */
export async function attachToPid(deps: AttachDeps, pid: number, stacks: StacksAfterAttach = 'focus'): Promise<Session | undefined> {
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
      // An interpreter outside the tested set: what is refused there and why, once per attach (capabilities.json).
      const untested = untestedWarning(session.hello?.capabilities);
      if (untested) {
        deps.log.warn(`attach ${pid}: ${untested}`);
        void vscode.window.showWarningMessage(untested);
      }
      await showStacksAfterAttach(session, stacks); // the first thing to see of a process is what its threads do
      return session;
    } catch (error) {
      const failure = PyFlightError.from(error);
      const python = failure.details?.python;
      if (failure.code === ErrorCode.ProfilerNotInstalled && typeof python === 'string' && attempt === 0 && failure.details?.reason !== 'reader environment') {
        const install = vscode.l10n.t('Install flight-profiler into {0}', python);
        // Nothing installed where the process runs: a venv of the same interpreter in PyFlight's cache
        // reads it from outside (stacks, profiles, hang and slow diagnoses; the agent stays refused).
        const outside = vscode.l10n.t('Read from Outside');
        const choice = await showError(deps.log, `attach ${pid}`, failure, install, outside);
        if (choice === outside ? !(await buildReaderWithProgress(deps, python)) : choice !== install || !(await installWithProgress(deps, python))) return undefined;
        continue; // installed, or a reader built (the session manager's readerFor uses it): attach again
      }
      await showError(deps.log, `attach ${pid}`, failure);
      return undefined;
    }
  }
  return undefined;
}

/** Attaches to every worker of a pre-fork master, as one group (read-only; later workers join). */
export async function attachWorkersOf(deps: AttachDeps, masterPid: number): Promise<WorkerGroup | undefined> {
  try {
    const group = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('PyFlight: attaching to the workers of {0}', masterPid) },
      () => deps.sessions.attachWorkers(masterPid),
    );
    void vscode.commands.executeCommand(`${ViewId.sessions}.focus`);
    vscode.window.setStatusBarMessage(vscode.l10n.t('$(debug-alt) PyFlight attached to {0} workers of {1}', group.workers.length, masterPid), 5000);
    return group;
  } catch (error) {
    await showError(deps.log, `attach workers of ${masterPid}`, error);
    return undefined;
  }
}

/** Runs pip (an install, or the reader's build) with a cancellable notification showing its lines; false when it failed (said). */
async function pipWithProgress(deps: AttachDeps, title: string, what: string,
  run: (onLine: (line: string) => void, signal: AbortSignal) => Promise<unknown>): Promise<boolean> {
  try {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return run((line) => progress.report({ message: line.slice(0, 120) }), abort.signal);
    });
    return true;
  } catch (error) {
    await showError(deps.log, what, error);
    return false;
  }
}

const buildReaderWithProgress = (deps: AttachDeps, python: string) => pipWithProgress(deps,
  vscode.l10n.t('Building PyFlight\'s reader environment of {0}', python), 'build the reader environment',
  (onLine, signal) => ensureReader(python, deps.log, onLine, signal));

const installWithProgress = (deps: AttachDeps, python: string) => pipWithProgress(deps,
  vscode.l10n.t('Installing {0}', FLIGHT_PROFILER_REQUIREMENT), 'install flight-profiler',
  (onLine, signal) => installFlightProfiler(python, deps.log, onLine, signal));

/** The picker's CPU column is the CPU use over this interval (Linux; see ProcessInfo.cpuPercent). */
const CPU_SAMPLE_MS = 500;

export function registerAttachCommands(context: vscode.ExtensionContext, deps: AttachDeps): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.attach, async (pidArg?: number | string, options?: AttachCommandOptions) => {
      if (pidArg !== undefined) return attachToPid(deps, Number(pidArg), options?.stacks ?? 'focus');
      const target = await pickAttachTarget({ list: () => listProcesses({ log: deps.log, cpuSampleMs: CPU_SAMPLE_MS }),
        showAllProcesses: setting('processPicker.showAllProcesses'), log: deps.log, offerWorkerGroups: true });
      if (!target) return undefined;
      if ('workersOf' in target) return attachWorkersOf(deps, target.workersOf);
      return attachToPid(deps, target.pid, options?.stacks ?? 'focus');
    }),
    vscode.commands.registerCommand(CommandId.detach, async (node?: SessionNode) => {
      const session = node?.session ?? (await pickAnySession(deps.sessions, vscode.l10n.t('Detach from which process?')));
      if (session) await deps.sessions.detach(session);
    }),
    vscode.commands.registerCommand(CommandId.detachWorkers, async (node?: WorkerGroupNode) => {
      if (node?.group) await deps.sessions.detachWorkers(node.group);
    }),
    vscode.commands.registerCommand(CommandId.chooseSession, async (node?: SessionNode) => {
      const session = node?.session ?? (await pickSessionFrom(deps.sessions.live, vscode.l10n.t('Which process should PyFlight commands act on?'), deps.sessions.current));
      if (session) deps.sessions.choose(session);
      return session;
    }),
  );
}

/**
 * The editor's side of `SessionManager.resolve` (the one routing rule): a Quick Pick among the
 * candidates, and with nothing attached the attach command (its process picker), after which the
 * command carries on with the new session.
 */
export const sessionChooser: SessionChooser = {
  pick: (candidates, placeHolder, preselected) => pickSessionFrom(candidates, placeHolder, preselected),
  attachNew: async (purpose) => {
    const attachOptions: AttachCommandOptions = { stacks: purpose === 'stacks' ? 'none' : 'background' };
    return (await vscode.commands.executeCommand<Session | undefined>(CommandId.attach, undefined, attachOptions)) ?? undefined;
  },
};

/** A pick of sessions: `current` first, so one Enter takes it. */
async function pickSessionFrom(candidates: readonly Session[], placeHolder: string, current?: Session): Promise<Session | undefined> {
  if (candidates.length === 0) return undefined;
  const ordered = current && candidates.includes(current) ? [current, ...candidates.filter((s) => s !== current)] : [...candidates];
  const items = ordered.map((s) => ({ label: s.label, description: sessionDescription(s, current), session: s }));
  return (await vscode.window.showQuickPick(items, { placeHolder }))?.session;
}

function sessionDescription(session: Session, current?: Session): string {
  return [sessionStatusText(session), session.hello ? `Python ${session.hello.python.version}` : '',
    session === current ? vscode.l10n.t('current') : ''].filter(Boolean).join(' · ');
}

/** Detach: any session, ended ones included, described in the Sessions view's words. */
async function pickAnySession(sessions: SessionManager, placeHolder: string): Promise<Session | undefined> {
  const all = sessions.all;
  if (all.length <= 1) return all[0];
  return pickSessionFrom(all, placeHolder, sessions.current);
}
