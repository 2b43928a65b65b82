import * as vscode from 'vscode';
import type { Session } from '../session/session';
import { ConsoleController } from './consoleController';

/**
 * A VS Code terminal on a console inside the target. Closing the terminal ends the console there
 * (its namespace goes; the target's streams are only ever redirected while a line runs).
 */
export function openConsoleTerminal(session: Session): vscode.Terminal {
  const write = new vscode.EventEmitter<string>();
  const close = new vscode.EventEmitter<void>();
  const console = new ConsoleController(session, {
    write: (text) => write.fire(text),
    closed: () => {
      // Leave the last words readable for a moment, as a shell's "exit" does not.
      setTimeout(() => close.fire(), 400);
    },
  });
  const ended = session.onDidChangeState((state) => {
    if (state !== 'ready') void console.close(vscode.l10n.t('Process {0} is no longer attached ({1}).', session.pid, state));
  });
  const pty: vscode.Pseudoterminal = {
    onDidWrite: write.event,
    onDidClose: close.event,
    open: () => void console.start(),
    close: () => {
      ended.dispose();
      void console.close();
    },
    handleInput: (data) => console.input(data),
  };
  const terminal = vscode.window.createTerminal({
    name: vscode.l10n.t('PyFlight Console: {0}', session.label),
    pty,
    iconPath: new vscode.ThemeIcon('debug-console'),
    isTransient: true, // not restored after a reload of the window: the console is gone then
  });
  terminal.show();
  return terminal;
}
