/**
 * `pyflight gilstat <pid> [--duration N] [--take ms] [--hold ms] [--interval s] [--max-threads N]
 * [--agent-threads] [--json]`: flight-profiler's GIL statistics (an interceptor on CPython's
 * take_gil/drop_gil, loaded with the agent) for N seconds or until Ctrl+C, then `off`: one report
 * per interval (threads by time holding the GIL, time waiting for it, alerts over the thresholds),
 * or with --json one JSON line per report and an end line. An interpreter without take_gil/drop_gil
 * symbols (stripped) is sampled with py-spy instead (`measure: "sampled"`; nothing is loaded).
 */
import type { Logger } from '../common/logger';
import { gilEndText, gilReportLines } from '../gil/gilText';
import type { GilstatParams, GilstatSummary } from '../protocol/helper';
import { numberOption, parsePid, usageError, type ParsedArgs } from './args';
import type { WithSession } from './withSession';

export function gilstatParams(args: ParsedArgs): GilstatParams {
  const params: GilstatParams = {};
  const options: [string, keyof GilstatParams][] = [['--take', 'takeMs'], ['--hold', 'holdMs'], ['--interval', 'intervalSeconds'], ['--max-threads', 'maxThreads']];
  for (const [flag, key] of options) {
    const value = numberOption(args, flag, true);
    if (value === undefined) continue;
    if (value < 1) throw usageError(`${flag} must be 1 or more, got ${value}.`);
    params[key] = value;
  }
  return params;
}

export async function runGilstat(args: ParsedArgs, log: Logger, withSession: WithSession): Promise<undefined> {
  const pid = parsePid(args.positional[0]);
  const params = gilstatParams(args);
  const duration = numberOption(args, '--duration');
  if (duration !== undefined && !(duration > 0)) throw usageError(`--duration must be more than 0 seconds, got ${duration}.`);
  const json = args.flags.has('json');
  const write = (line: string) => process.stdout.write(line + '\n');
  await withSession(pid, args, log, async (session, stop) => {
    const gil = session.startGilstat(params);
    gil.onDidRecord((record) => {
      if (json) write(JSON.stringify({ type: 'record', data: record }));
      else write(gilReportLines(record, args.flags.has('agent-threads')).join('\n'));
    });
    // --duration counts from the moment the interceptor is on (loading the agent into a process
    // whose GIL is busy can itself take seconds).
    let timer: NodeJS.Timeout | undefined;
    let said = false;
    gil.onDidChange(() => {
      if (duration && !timer && gil.state === 'running') timer = setTimeout(() => gil.stop(), duration * 1000);
      if (gil.measure === 'sampled' && !said) {
        said = true;
        process.stderr.write(`pyflight: sampling which thread holds the GIL with py-spy (no waits, no alerts): ${gil.sampledBecause ?? ''}\n`);
      }
    });
    const onStop = () => gil.stop();
    stop.addEventListener('abort', onStop);
    session.onDidChangeState(() => gil.stop());
    try {
      const summary: GilstatSummary = await gil.done;
      write(json ? JSON.stringify({ type: 'end', data: { ...summary, symbols: gil.symbols } }) : gilEndText(summary));
    } finally {
      if (timer) clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
    return undefined;
  });
  return undefined;
}
