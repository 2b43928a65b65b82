/**
 * The GIL in the editor: a status bar item for the current session that turns flight-profiler's
 * gilstat on and off (the agent loads on demand, after consent) and shows the latest interval's
 * holder and waiter live; threshold alerts go to the "PyFlight GIL" output, one line per alert.
 * gilstat is turned off in the target on detach and deactivate (the helper sends `off` when it
 * stops) and after a helper crash (the session sends it from a fresh helper).
 */
import { deathText, firstDeathNotice } from '../session/targetDeath';
import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import type { Logger } from '../common/logger';
import { showError } from '../common/showError';
import type { GilstatParams, GilstatRecord } from '../protocol/helper';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import type { GilStat } from '../session/gilStat';
import { alertText, gilEndText, gilReportLines, gilStatusText } from './gilText';
import { setting } from '../common/config';

export interface GilDeps {
  log: Logger;
  sessions: SessionManager;
}

/** Settings `pyflight.gil.*` (defaults: the seed's 10 ms, 10 ms, 5 s, 500 threads). */
export function gilSettings(): GilstatParams {
  return {
    takeMs: setting('gil.waitThresholdMs'),
    holdMs: setting('gil.holdThresholdMs'),
    intervalSeconds: setting('gil.intervalSeconds'),
    maxThreads: setting('gil.maxThreads'),
  };
}

export function registerGilCommands(context: vscode.ExtensionContext, deps: GilDeps): void {
  const { log, sessions } = deps;
  const output = vscode.window.createOutputChannel('PyFlight GIL');
  const item = vscode.window.createStatusBarItem('pyflight.gil', vscode.StatusBarAlignment.Left, 49);
  item.name = vscode.l10n.t('PyFlight GIL');
  item.command = CommandId.toggleGil;
  const followed = new WeakSet<GilStat>();

  const update = () => {
    const session = sessions.current;
    if (!session || session.state !== 'ready') {
      item.hide();
      return;
    }
    const gil = session.gilstat;
    if (!gil) {
      item.text = '$(pulse) GIL';
      item.tooltip = vscode.l10n.t('Measure who holds the GIL in {0} and who waits for it (flight-profiler gilstat; loads the agent). Click to turn on.', session.label);
      item.backgroundColor = undefined;
    } else {
      item.text = `$(pulse) ${gil.state === 'starting' ? vscode.l10n.t('GIL: starting…') : gilStatusText(gil.latest)}`;
      const lines = gil.latest ? gilReportLines(gil.latest) : [vscode.l10n.t('Waiting for the first report (every {0} s).', gil.params.intervalSeconds ?? 5)];
      const tooltip = new vscode.MarkdownString();
      tooltip.appendMarkdown(gil.measure === 'sampled'
        ? vscode.l10n.t('**GIL in {0}** — sampled with py-spy (which thread holds the GIL; no waits): {1}', session.label, gil.sampledBecause ?? '')
        : vscode.l10n.t('**GIL in {0}** — measured by intercepting CPython\'s take_gil/drop_gil (exact times)', session.label));
      tooltip.appendCodeblock(lines.join('\n'), 'text');
      tooltip.appendMarkdown(vscode.l10n.t('Alerts over {0} ms waiting / {1} ms holding: output "PyFlight GIL". Click to turn off.',
        gil.params.takeMs ?? 10, gil.params.holdMs ?? 10));
      item.tooltip = tooltip;
      item.backgroundColor = gil.latest?.alertCount ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    }
    item.show();
  };

  const follow = (session: Session, gil: GilStat) => {
    if (followed.has(gil)) return;
    followed.add(gil);
    gil.onDidChange(update);
    gil.onDidRecord((record: GilstatRecord) => {
      for (const alert of record.alerts) output.appendLine(`${alert.time}  pid ${session.pid}  ${alertText(alert)}`);
      if (record.alertsCut) output.appendLine(vscode.l10n.t('{0}  pid {1}  … {2} alerts in this report, only the newest kept by the agent', record.time ?? '', session.pid, record.alertCount));
    });
    void gil.done.then(
      (summary) => {
        log.info(`session ${session.pid}: ${gilEndText(summary)}`);
        update();
        if (summary.reason === 'exited') {
          void session.checkDeath().then((death) => void (firstDeathNotice(session) && vscode.window.showWarningMessage(
            `PyFlight: ${capitalized(deathText(session.pid, death ?? {}, 'GIL statistics'))}.`)));
        }
      },
      (error: unknown) => {
        update();
        void showError(log, 'GIL statistics', error);
      },
    );
  };

  const toggle = async () => {
    const session = sessions.current;
    if (!session || session.state !== 'ready') {
      void vscode.window.showInformationMessage(vscode.l10n.t('Attach to a process first (PyFlight: Attach to Process…).'));
      return;
    }
    const running = session.gilstat;
    if (running) {
      running.stop();
      return;
    }
    const params = gilSettings();
    log.info(`session ${session.pid}: gilstat on (wait ≥ ${params.takeMs} ms, hold ≥ ${params.holdMs} ms, every ${params.intervalSeconds} s)`);
    output.appendLine(vscode.l10n.t('— GIL statistics on in {0}: alerts for waits over {1} ms and holds over {2} ms', session.label, params.takeMs ?? 10, params.holdMs ?? 10));
    follow(session, session.startGilstat(params));
    update();
  };

  const showAlerts = () => output.show(true);

  const watched = new WeakSet<Session>();
  const onSessions = () => {
    for (const session of sessions.all) {
      if (watched.has(session)) continue;
      watched.add(session);
      session.onDidStartGilstat((gil) => follow(session, gil));
    }
    update();
  };
  context.subscriptions.push(output, item, sessions.onDidChange(onSessions),
    vscode.commands.registerCommand(CommandId.toggleGil, toggle),
    vscode.commands.registerCommand(CommandId.showGilAlerts, showAlerts));
  onSessions();
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
