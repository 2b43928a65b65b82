import * as fs from 'node:fs';
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
export async function openProfilerTerminal(session: Session): Promise<vscode.Terminal | undefined> {
  const python = session.preflightResult?.interpreter.python;
  if (!python) throw new PyFlightError(ErrorCode.InterpreterNotFound, `No interpreter is known for process ${session.pid}.`, 'Attach again.');
  await session.loadAgent();
  const bin = path.dirname(python);
  const script = path.join(bin, 'flight_profiler');
  // The console script when the environment has one; otherwise the same entry point through python.
  const [shellPath, shellArgs] = fs.existsSync(script)
    ? [script, [String(session.pid)]]
    : [python, ['-c', 'import sys; from flight_profiler.client import run; sys.exit(run())', String(session.pid)]];
  const terminal = vscode.window.createTerminal({
    name: vscode.l10n.t('PyFlight Terminal: {0}', session.label),
    shellPath,
    shellArgs,
    env: { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` },
    iconPath: new vscode.ThemeIcon('terminal'),
    message: vscode.l10n.t('flight-profiler\'s CLI on process {0} ({1}). Type help for its commands; quit leaves the process running.', session.pid, python),
  });
  terminal.show();
  return terminal;
}
