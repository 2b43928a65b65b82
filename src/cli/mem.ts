/**
 * `pyflight mem summary <pid> [--limit N] [--order descending|ascending] [--json]` and
 * `pyflight mem diff <pid> [--interval S] [--limit N] [--order …] [--json]`: flight-profiler's
 * `mem` through the agent (pympler: a full heap walk in the target), as a table or JSON rows.
 */
import type { Logger } from '../common/logger';
import { diffRows, memTable } from '../memory/memModel';
import type { MemDiffParams } from '../protocol/helper';
import type { Session } from '../session/session';
import { numberOption, parsePid, usageError, type ParsedArgs } from './args';

type WithSession = <T>(pid: number, args: ParsedArgs, log: Logger, body: (s: Session, stop: AbortSignal) => Promise<T>) => Promise<T>;

function memParams(args: ParsedArgs): MemDiffParams {
  const order = args.values.get('--order');
  if (order !== undefined && order !== 'descending' && order !== 'ascending') throw usageError('--order is descending or ascending.');
  const limit = numberOption(args, '--limit', true);
  if (limit !== undefined && limit < 1) throw usageError('--limit is a whole number from 1.');
  return { limit: limit ?? 20, order: order ?? 'descending' };
}

export async function runMem(args: ParsedArgs, log: Logger, withSession: WithSession): Promise<unknown> {
  const [action, pidText] = args.positional;
  const json = args.flags.has('json');
  if (action !== 'summary' && action !== 'diff') throw usageError('mem takes summary or diff, e.g. `pyflight mem diff <pid> --interval 10`.');
  const pid = parsePid(pidText);
  const params = memParams(args);
  if (action === 'summary') {
    const result = await withSession(pid, args, log, (s, stop) => s.memSummary(params, stop));
    if (json) return { pid, ...result };
    return [`Process ${pid}: the ${result.rows.length} ${params.order === 'ascending' ? 'smallest' : 'biggest'} types by total size `
      + '(pympler; ~ = read back from KB/MB with two decimals).', ...memTable(result.rows, false)].join('\n');
  }
  const interval = numberOption(args, '--interval', true) ?? 10;
  if (interval < 1) throw usageError('--interval is a whole number of seconds from 1.');
  const result = await withSession(pid, args, log, (s, stop) => s.memDiff({ ...params, interval }, stop, (seconds) => {
    process.stderr.write(`pyflight: first snapshot taken; the second in ${seconds} s (Ctrl+C stops waiting; the agent still finishes its diff).\n`);
  }));
  if (json) return { pid, ...result };
  return [`Process ${pid}: what changed in ${result.intervalSeconds} s, biggest size change first `
    + '(list and str always include pympler\'s own first snapshot, about one each per type).', ...memTable(diffRows(result), true)].join('\n');
}
