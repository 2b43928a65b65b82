import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Session } from '../session/session';

/**
 * flight-profiler's own interactive CLI (`flight_profiler <pid>`) for the session, with the
 * session's interpreter and its bin directory first on PATH: for what PyFlight has no UI for.
 * The agent is loaded first through PyFlight's consent, so the CLI finds it (it scans the port
 * range for the pid) instead of injecting flight-profiler's own.
 */
/**
 * flight-profiler's console-script entry point, with `quit` exiting 0: upstream exits 1 on quit,
 * which VS Code reports as a failed terminal process.
 */
const LAUNCH = [
  'import sys',
  'from flight_profiler.plugins import cli_plugin',
  'cli_plugin.QuitCliPlugin.do_action = lambda self, cmd: sys.exit(0)',
  'from flight_profiler.client import run',
  'sys.exit(run())',
].join('; ');

export async function openProfilerTerminal(session: Session): Promise<vscode.Terminal | undefined> {
  const python = session.preflightResult?.interpreter.python;
  if (!python) throw new PyFlightError(ErrorCode.InterpreterNotFound, `No interpreter is known for process ${session.pid}.`, 'Attach again.');
  await session.loadAgent();
  const bin = path.dirname(python);
  const terminal = vscode.window.createTerminal({
    name: vscode.l10n.t('PyFlight Terminal: {0}', session.label),
    shellPath: python,
    shellArgs: ['-c', LAUNCH, String(session.pid)],
    env: { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` },
    iconPath: new vscode.ThemeIcon('terminal'),
    message: vscode.l10n.t('flight-profiler\'s CLI on process {0} ({1}). Type help for its commands; quit leaves the process running.', session.pid, python),
  });
  terminal.show();
  return terminal;
}
