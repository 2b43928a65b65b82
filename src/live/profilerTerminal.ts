import * as vscode from 'vscode';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Session } from '../session/session';
import { terminalCommand } from './terminalLaunch';

/** Asks before opening the port: what it exposes, to whom, for how long. */
async function confirmPort(session: Session): Promise<boolean> {
  const uid = session.preflightResult?.facts?.uid;
  const who = uid === undefined ? vscode.l10n.t("the process's user") : uid === 0 ? 'root' : vscode.l10n.t('user {0}', uid);
  const open: vscode.MessageItem = { title: vscode.l10n.t('Open Port and Terminal') };
  const cancel: vscode.MessageItem = { title: vscode.l10n.t('Cancel'), isCloseAffordance: true };
  const choice = await vscode.window.showWarningMessage(
    vscode.l10n.t('Open a TCP port into process {0} for flight-profiler\'s terminal?', session.pid),
    { modal: true, detail: vscode.l10n.t('flight-profiler\'s CLI talks to the agent over TCP. PyFlight\'s agent opens a port on 127.0.0.1 '
      + 'for it while the terminal is open: any process of {0} or root on this machine can connect to that port and run commands in '
      + 'process {1} (including code, unless the agent was loaded with code execution off); other users\' connections are refused. '
      + 'The port closes when the terminal closes, the session detaches or PyFlight exits. PyFlight\'s own commands never need it.', who, session.pid) },
    cancel, open);
  return choice === open;
}

/**
 * flight-profiler's own interactive CLI (`flight_profiler <pid>`) for the session, with the
 * session's interpreter and its bin directory first on PATH: for what PyFlight has no UI for.
 *
 * PyFlight's agent listens only on its door (a Unix socket only the target's user or root may use);
 * flight-profiler's CLI speaks TCP. So the agent opens a port on 127.0.0.1 for it, only on this
 * explicit request and after a modal that says what that exposes, and closes it when the terminal
 * closes (also when the session detaches, its helper exits or the process does). The CLI finds the
 * port the way it always does (it asks the ports of PYFLIGHT_INJECT_START_PORT..END_PORT for the
 * pid), here a range of one port.
 */
export async function openProfilerTerminal(session: Session): Promise<vscode.Terminal | undefined> {
  const python = session.preflightResult?.interpreter.python;
  if (!python) throw new PyFlightError(ErrorCode.InterpreterNotFound, `No interpreter is known for process ${session.pid}.`, 'Attach again.');
  if (!(await confirmPort(session))) return undefined;
  const abort = new AbortController();
  const { port, ownNetwork, closed } = await session.openTerminalPort(abort.signal);
  const { shellPath, shellArgs, env } = terminalCommand(python, session.pid, { port, ownNetwork });
  const terminal = vscode.window.createTerminal({
    name: vscode.l10n.t('PyFlight Terminal: {0}', session.label),
    shellPath,
    shellArgs,
    env,
    iconPath: new vscode.ThemeIcon('terminal'),
    message: vscode.l10n.t('flight-profiler\'s CLI on process {0} ({1}), through port {2} of 127.0.0.1, open while this terminal is. Type help for its commands; quit leaves the process running.', session.pid, python, port),
  });
  const closeListener = vscode.window.onDidCloseTerminal((closedTerminal) => {
    if (closedTerminal === terminal) abort.abort();
  });
  void closed.finally(() => closeListener.dispose());
  terminal.show();
  return terminal;
}
