/**
 * `pyflight mem summary <pid> [--limit N] [--order descending|ascending] [--json]` and
 * `pyflight mem diff <pid> [--interval S] [--limit N] [--order growth|size|…] [--sample N] [--max-seconds S] [--halves] [--raw] [--json]`:
 * summary is flight-profiler's `mem` through the agent (pympler: a full heap walk in the target);
 * diff is PyFlight's census (pyflight_agent/census.py) twice, ranked by what the user owns.
 * `pyflight mem holders <pid> <module> <Class> [--samples N] [--max-seconds S] [--sliced] [--json]`: what holds
 * a type's objects (`dict`, or `builtins dict`, for a built-in type).
 */
import type { Logger } from '../common/logger';
import { holdersReport } from '../memory/holders';
import { censusProgressText, diffReport, statsText } from '../memory/census';
import { memTable } from '../memory/memModel';
import type { MemDiffParams, MemSummaryParams } from '../protocol/helper';
import { numberOption, parsePid, usageError, type ParsedArgs } from './args';
import type { WithSession } from './withSession';

function memParams(args: ParsedArgs): MemSummaryParams {
  const order = args.values.get('--order');
  if (order !== undefined && order !== 'descending' && order !== 'ascending') throw usageError('--order is descending or ascending.');
  const limit = numberOption(args, '--limit', true);
  if (limit !== undefined && limit < 1) throw usageError('--limit is a whole number from 1.');
  return { limit: limit ?? 20, order: order ?? 'descending' };
}

export async function runMem(args: ParsedArgs, log: Logger, withSession: WithSession): Promise<unknown> {
  const [action, pidText] = args.positional;
  const json = args.flags.has('json');
  if (action !== 'summary' && action !== 'diff' && action !== 'holders') {
    throw usageError('mem takes summary, diff or holders, e.g. `pyflight mem diff <pid> --interval 10`.');
  }
  const pid = parsePid(pidText);
  if (action === 'holders') return runHolders(pid, args, log, withSession);
  const params = memParams(args);
  if (action === 'summary') {
    let shown = '';
    const result = await withSession(pid, args, log, (s, stop) => s.call('memSummary', { ...params, maxSeconds: numberOption(args, '--max-seconds'),
      sample: numberOption(args, '--sample', true) }, { signal: stop, onProgress: (stage, detail) => {
      const text = censusProgressText(stage, detail);
      const step = String(Math.floor(Number((detail ?? '').split(' ')[1]) / 10));
      if (text && step !== shown) {
        shown = step;
        process.stderr.write(`pyflight: ${text}\n`);
      }
    } }));
    if (json) return { pid, ...result };
    const stats = statsText(result.census ? [result.census] : undefined);
    return [`Process ${pid}: the ${result.rows.length} ${params.order === 'ascending' ? 'smallest' : 'biggest'} types by total size `
      + '(a census of the heap; objects the collector does not track counted through their containers).', ...memTable(result.rows, false),
    ...(stats ? ['', stats] : [])].join('\n');
  }
  return runDiff(pid, args, log, withSession, json);
}

/** `mem diff`: two censuses in the target; the percent of each on stderr, the table (ranked by what the user owns) on stdout. */
async function runDiff(pid: number, args: ParsedArgs, log: Logger, withSession: WithSession, json: boolean): Promise<unknown> {
  const interval = numberOption(args, '--interval', true) ?? 10;
  if (interval < 1) throw usageError('--interval is a whole number of seconds from 1.');
  const order = args.values.get('--order') ?? (args.flags.has('raw') ? 'size' : 'growth');
  if (!['growth', 'size', 'descending', 'ascending'].includes(order)) throw usageError('--order is growth, size, descending or ascending.');
  const limit = numberOption(args, '--limit', true) ?? 20;
  if (limit < 1) throw usageError('--limit is a whole number from 1.');
  const sample = numberOption(args, '--sample', true);
  const maxSeconds = numberOption(args, '--max-seconds');
  // --halves: a census halfway too, so growth must show in both halves (what the memory diagnosis does)
  const params: MemDiffParams = { interval, limit, order: order as MemDiffParams['order'], sample, maxSeconds,
    ...(args.flags.has('halves') ? { middle: true } : {}) };
  const say = (line: string) => process.stderr.write(`pyflight: ${line}\n`);
  let shown = '';
  let middleRan = false;
  const result = await withSession(pid, args, log, (s, stop) => s.call('memDiff', params, { signal: stop,
    onProgress: (stage, detail) => {
      const text = censusProgressText(stage, detail);
      // The first line of each census, then each new tenth (and 100 %) is enough on a terminal.
      const [label, percent] = (detail ?? '').split(' ');
      if (stage === 'census' && label === 'middle') middleRan = true;
      const step = `${label} ${Math.floor(Number(percent) / 10)}`;
      if (text && step !== shown) {
        shown = step;
        say(text);
      }
    },
    onWaiting: (seconds, next) => say(`${middleRan ? 'middle' : 'first'} census taken; the ${next === 'middle' ? 'middle one' : 'second'} in ${seconds} s `
      + '(Ctrl+C stops; nothing stays in the process).') }));
  if (json) return { pid, ...result };
  return diffReport(pid, result).join('\n');
}

async function runHolders(pid: number, args: ParsedArgs, log: Logger, withSession: WithSession): Promise<unknown> {
  const words = args.positional.slice(2);
  // `dict` alone is the built-in type; `builtins dict` says the same.
  const [module, cls] = words.length === 1 ? ['builtins', words[0]] : words;
  if (!module || !cls || words.length > 2) {
    throw usageError('mem holders needs `<module> <Class>` as pympler names the type, e.g. `pyflight mem holders <pid> app.cache Session` or `… builtins dict`.');
  }
  const samples = numberOption(args, '--samples', true);
  const maxSeconds = numberOption(args, '--max-seconds');
  // --sliced: each heap pass in slices of one gc.get_objects listing (what the diagnosis uses on heaps of over 5 M objects)
  const sliced = args.flags.has('sliced') ? { sliced: true } : {};
  const result = await withSession(pid, args, log, (s, stop) => s.call('memHolders', { module, class: cls, samples, maxSeconds, ...sliced }, { signal: stop }));
  if (args.flags.has('json')) return { pid, ...result };
  return holdersReport(pid, result).join('\n');
}
