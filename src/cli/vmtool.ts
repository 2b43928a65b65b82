/**
 * `pyflight vmtool <pid> getInstances -c <module> <class> [-e expr] [-n 10] [-x depth] [-r] [-v] [--json]`
 * and `pyflight vmtool <pid> forceGc [--json]`: flight-profiler's vmtool through the agent
 * (`-a getInstances` / `-a forceGc`, its own spelling, work too).
 */
import type { Logger } from '../common/logger';
import { forceGcText, instancesDocument } from '../inspect/valueText';
import { numberOption, parsePid, usageError, type ParsedArgs } from './args';
import type { WithSession } from './withSession';

export async function runVmtool(args: ParsedArgs, log: Logger, withSession: WithSession): Promise<unknown> {
  const [pidText, ...words] = args.positional;
  const pid = parsePid(pidText);
  const action = args.values.get('-a') ?? words.shift();
  const json = args.flags.has('json');
  if (action === 'forceGc') {
    const result = await withSession(pid, args, log, (s, stop) => s.call('forceGc', {}, { signal: stop }));
    return json ? { pid, ...result } : forceGcText(result);
  }
  if (action !== 'getInstances') throw usageError('vmtool takes getInstances or forceGc, e.g. `pyflight vmtool <pid> getInstances -c shop.orders Order`.');
  // `-c module class` (two words, as flight-profiler reads it) or `-c "module class"`.
  const location = [...(args.values.get('-c') ?? '').split(/\s+/), ...words].filter(Boolean);
  if (location.length !== 2) throw usageError('getInstances needs `-c <module> <class>`, e.g. `-c __main__ Order`.');
  const params = { module: location[0], class: location[1], expr: args.values.get('-e'), limit: numberOption(args, '-n', true),
    expand: numberOption(args, '-x', true), raw: args.flags.has('r'), verbose: args.flags.has('v') };
  const result = await withSession(pid, args, log, (s, stop) => s.call('getInstances', params, { signal: stop }));
  return json ? { pid, ...result } : instancesDocument(result, pid).trimEnd();
}
