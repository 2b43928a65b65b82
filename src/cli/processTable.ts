/**
 * `pyflight processes` as text: one table in the picker's order and grouping (buildPickerEntries),
 * so a gunicorn / uvicorn / celery master is followed by its workers, drawn as a tree.
 */
import { buildPickerEntries, shortCommand, type PickerEntry } from '../processes/pickerItems';
import { containerText } from '../processes/containers';
import type { ProcessInfo } from '../processes/processInfo';

const COMMAND_WIDTH = 100;

type ProcessEntry = Extract<PickerEntry, { type: 'process' }>;

function commandText(e: ProcessEntry): string {
  const command = shortCommand(e.process.commandLine, COMMAND_WIDTH);
  const role = e.process.server && (e.place === 'master' || e.place === 'worker') ? `[${e.process.server.kind} ${e.place}] ` : '';
  return `${role}${command}${e.pypy ? '  (PyPy: cannot attach)' : ''}${e.process.container ? `  (${containerText(e.process.container)})` : ''}`;
}

/**
 *     PID  USER  AGE  COMMAND
 *    7994  root  5m   python sleeper.py
 *    7988  root  5m   [gunicorn master] gunicorn: master [wsgi_app:app]
 *  ├ 7999  root  5m   [gunicorn worker] gunicorn: worker [wsgi_app:app]
 *  └ 8003  root  5m   [gunicorn worker] gunicorn: worker [wsgi_app:app]
 *
 *  other processes (not Python):
 *    7995  root  5m   sleep 3600
 */
export function processTable(processes: readonly ProcessInfo[], options: { showAllProcesses: boolean; now: number }): string {
  const entries = buildPickerEntries(processes, options);
  const rows: Array<[string, string, string, string] | string> = [];
  entries.forEach((e, i) => {
    if (e.type === 'separator') {
      if (e.section === 'other') rows.push('', 'other processes (not Python):');
      return;
    }
    let pid = String(e.process.pid);
    if (e.place === 'worker') {
      const next = entries[i + 1];
      pid = `${next?.type === 'process' && next.place === 'worker' ? '├' : '└'} ${pid}`;
    }
    rows.push([pid, e.process.user, e.age ?? '?', commandText(e)]);
  });
  if (!rows.length) return options.showAllProcesses ? 'No processes.' : 'No Python processes (--all lists every process).';
  const table = rows.filter((r): r is [string, string, string, string] => typeof r !== 'string');
  const header: [string, string, string, string] = ['PID', 'USER', 'AGE', 'COMMAND'];
  const width = (c: number) => Math.max(...[header, ...table].map((r) => r[c].length));
  const [w0, w1, w2] = [width(0), width(1), width(2)];
  const line = (r: [string, string, string, string]) => `${r[0].padStart(w0)}  ${r[1].padEnd(w1)}  ${r[2].padEnd(w2)}  ${r[3]}`.trimEnd();
  return [line(header), ...rows.map((r) => (typeof r === 'string' ? r : line(r)))].join('\n');
}
