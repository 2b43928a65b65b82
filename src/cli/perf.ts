/**
 * `pyflight perf <pid> [-d N] [--rate R] [--native] [--idle] [--gil] [--nonblocking] [-n TOP]
 * [--speedscope FILE] [--collapsed FILE] [--json]`: a CPU profile recorded with py-spy from
 * outside (no agent), as a top-N table and the hottest path, or JSON (samples, hot, tree).
 */
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { localHost } from '../host/localHost';
import { preflight } from '../preflight/preflight';
import { writeCollapsed, writeSpeedscope } from '../profile/export';
import { hotOwnAndLibrary, type CpuProfile } from '../profile/model';
import { perfText } from '../profile/profileText';
import { recordCpuProfile, type CpuProfileResult } from '../profile/record';
import { numberOption, parsePid, type ParsedArgs } from './args';

/** The JSON `pyflight perf --json` prints. */
export function perfJson(result: CpuProfileResult): Record<string, unknown> {
  return {
    pid: result.pid, samples: result.profile.samples, idleSamples: result.profile.idleSamples,
    pyflightThreads: pyflightThreadsJson(result.profile), rate: result.rate, chunks: result.chunks, elapsedMs: result.elapsedMs,
    native: result.native, idle: result.idle, gil: result.gil, end: result.end,
    hot: hotOwnAndLibrary(result.profile), tree: result.profile.tree,
  };
}

/** The samples of PyFlight's own threads that were left out, and which threads. */
export function pyflightThreadsJson(profile: CpuProfile): { samples: number; threads: Array<{ tid: number; name?: string; samples: number }> } {
  const { samples, threads } = profile.pyflightThreads;
  return { samples, threads: [...threads].map(([tid, t]) => ({ tid, ...t })) };
}

export async function runPerf(args: ParsedArgs, log: Logger): Promise<unknown> {
  const pid = parsePid(args.positional[0]);
  const json = args.flags.has('json');
  const duration = numberOption(args, '-d', true);
  const rate = numberOption(args, '--rate', true);
  const top = numberOption(args, '-n', true) ?? 15;
  let python: string | undefined;
  let script = 'python';
  try {
    const checked = await preflight(pid);
    python = checked.interpreter.python;
    script = checked.facts.argv.slice(1).find((a) => !a.startsWith('-'))?.split('/').pop() ?? script;
  } catch (error) {
    // py-spy needs no interpreter of ours: without one it is looked for on PATH.
    if (!(error instanceof PyFlightError) || error.code !== ErrorCode.InterpreterNotFound) throw error;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = !json && process.stderr.isTTY;
  if (duration === undefined) process.stderr.write(`pyflight: profiling process ${pid} until Ctrl+C…\n`);
  try {
    const result = await recordCpuProfile({ pid, host: localHost, ...(python ? { preflightResult: { interpreter: { python } } } : {}) },
      { durationSeconds: duration, rate, native: args.flags.has('native'), idle: args.flags.has('idle'), gil: args.flags.has('gil'),
        nonblocking: args.flags.has('nonblocking'), log },
      stop.signal,
      (p) => { if (tty) process.stderr.write(`\rpyflight: ${p.chunks} s, ${p.profile.samples} samples…`); });
    if (tty) process.stderr.write('\r\x1b[K');
    const name = `${script} (pid ${pid})`;
    const speedscope = args.values.get('--speedscope');
    const collapsed = args.values.get('--collapsed');
    if (speedscope) await writeSpeedscope(path.resolve(speedscope), result.profile, { name, rate: result.rate });
    if (collapsed) await writeCollapsed(path.resolve(collapsed), result.profile);
    if (result.end.reason === 'targetExited') {
      process.stderr.write(`pyflight: ${result.end.message}\n`);
      process.exitCode = 1;
    }
    const written = [speedscope && `speedscope: ${speedscope}`, collapsed && `collapsed stacks: ${collapsed}`].filter(Boolean);
    if (json) return { ...perfJson(result), ...(speedscope ? { speedscope: path.resolve(speedscope) } : {}), ...(collapsed ? { collapsed: path.resolve(collapsed) } : {}) };
    return perfText(result, top) + (written.length ? `\n\nWrote ${written.join(', ')}.` : '');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
