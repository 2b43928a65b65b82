/**
 * `pyflight perf <pid> [-d N] [--rate R] [--native] [--idle] [--gil] [--nonblocking] [-n TOP]
 * [--speedscope FILE] [--collapsed FILE] [--json]`: a CPU profile recorded with py-spy from
 * outside (no agent), as a top-N table and the hottest path, or JSON (samples, hot, tree).
 * `perf <master> --all-workers [--worker PID]`: every worker of a gunicorn / uvicorn / celery master
 * in parallel, merged, with the workers each hot function was found in (or one worker's share).
 */
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { localHost } from '../host/localHost';
import { preflight } from '../preflight/preflight';
import { writeCollapsed, writeSpeedscope } from '../profile/export';
import { listProcesses, requireServerWorkers } from '../processes/processLister';
import { hotOwnAndLibrary, type CpuProfile } from '../profile/model';
import { flagsText, perfText, profileLines, workerSamplesOf } from '../profile/profileText';
import { recordCpuProfile, type CpuProfileOptions, type CpuProfileResult, type ProfileTarget } from '../profile/record';
import { profileForWorker, recordWorkersProfile, type WorkersProfileResult } from '../profile/workers';
import { numberOption, parsePid, usageError, type ParsedArgs } from './args';
import { cliPython, stopOnSignals } from './withSession';

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

/** A profile of every worker of a master: what `perf <master> --all-workers` prints (or one worker's, with `--worker`). */
export interface WorkersPerf {
  master: number;
  label: string;
  result: WorkersProfileResult;
  /** `--worker`: the one worker shown. */
  worker?: number;
  options: { native: boolean; idle: boolean; gil: boolean; nonblocking: boolean };
}

function shownProfile(perf: WorkersPerf): CpuProfile {
  return profileForWorker(perf.result.merged, perf.result.workers, perf.worker);
}

export function workersPerfJson(perf: WorkersPerf): Record<string, unknown> {
  const profile = shownProfile(perf);
  const by = workerSamplesOf(perf.result.workers);
  return {
    master: perf.master, ...(perf.worker !== undefined ? { worker: perf.worker } : {}),
    workers: perf.result.workers.map((w) => ({ pid: w.pid, samples: w.profile.samples, idleSamples: w.profile.idleSamples,
      pyflightThreads: pyflightThreadsJson(w.profile), ...(w.error ? { error: w.error } : {}) })),
    samples: profile.samples, idleSamples: profile.idleSamples, pyflightThreads: pyflightThreadsJson(profile), rate: perf.result.rate,
    elapsedMs: perf.result.elapsedMs, ...perf.options,
    hot: hotOwnAndLibrary(profile).map((h) => ({ ...h, workers: by(h) })), tree: profile.tree,
  };
}

export function workersPerfText(perf: WorkersPerf, top = 15): string {
  const profile = shownProfile(perf);
  const { result } = perf;
  const head = perf.worker !== undefined
    ? `Worker ${perf.worker} of ${perf.label} (1 of ${result.workers.length} workers profiled): ${profile.samples} samples`
    : `${perf.label}: ${result.workers.length} workers, ${profile.samples} samples merged`;
  const lines = [`${head} in ${(result.elapsedMs / 1000).toFixed(1)} s at ${result.rate} Hz${flagsText(perf.options)}, recorded with py-spy from outside.`,
    `  ${result.workers.map((w) => `worker ${w.pid}: ${w.error ? w.error : `${w.profile.samples} samples`}`).join(' · ')}`];
  return [...lines, ...profileLines(profile, top, perf.worker === undefined ? workerSamplesOf(result.workers) : undefined)].join('\n');
}

/** What the user asked py-spy for (both paths). */
function recordOptions(args: ParsedArgs, log: Logger): CpuProfileOptions {
  return { durationSeconds: numberOption(args, '-d', true), rate: numberOption(args, '--rate', true), native: args.flags.has('native'),
    idle: args.flags.has('idle'), gil: args.flags.has('gil'), nonblocking: args.flags.has('nonblocking'), log };
}

/** Ctrl+C / SIGTERM stop the recording (and keep what was sampled) while `body` runs. */
async function untilStopped<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = stopOnSignals();
  try {
    return await body(stop.signal);
  } finally {
    stop.release();
  }
}

/** A process's interpreter when it can be found (py-spy is looked for next to it), and a name for exports. */
async function targetOf(pid: number): Promise<{ target: ProfileTarget; script: string }> {
  try {
    const checked = await preflight(pid, cliPython());
    const script = checked.facts.argv.slice(1).find((a) => !a.startsWith('-'))?.split('/').pop() ?? 'python';
    return { target: { pid, host: localHost, preflightResult: { interpreter: { python: checked.interpreter.python } } }, script };
  } catch (error) {
    // py-spy needs no interpreter of ours: without one it is looked for on PATH.
    if (!(error instanceof PyFlightError) || error.code !== ErrorCode.InterpreterNotFound) throw error;
    return { target: { pid, host: localHost }, script: 'python' };
  }
}

async function writeExports(args: ParsedArgs, profile: CpuProfile, name: string, rate: number): Promise<Record<string, string>> {
  const speedscope = args.values.get('--speedscope');
  const collapsed = args.values.get('--collapsed');
  if (speedscope) await writeSpeedscope(path.resolve(speedscope), profile, { name, rate });
  if (collapsed) await writeCollapsed(path.resolve(collapsed), profile);
  return { ...(speedscope ? { speedscope: path.resolve(speedscope) } : {}), ...(collapsed ? { collapsed: path.resolve(collapsed) } : {}) };
}

function writtenText(files: Record<string, string>): string {
  const written = [files.speedscope && `speedscope: ${files.speedscope}`, files.collapsed && `collapsed stacks: ${files.collapsed}`].filter(Boolean);
  return written.length ? `\n\nWrote ${written.join(', ')}.` : '';
}

export async function runPerf(args: ParsedArgs, log: Logger): Promise<unknown> {
  if (args.flags.has('all-workers')) return runPerfWorkers(args, log);
  if (args.values.has('--worker')) throw usageError('--worker <pid> picks one worker of a profile of all workers: add --all-workers and give the master\'s pid.');
  const pid = parsePid(args.positional[0]);
  const json = args.flags.has('json');
  const top = numberOption(args, '-n', true) ?? 15;
  const options = recordOptions(args, log);
  const { target, script } = await targetOf(pid);
  const tty = !json && process.stderr.isTTY;
  if (options.durationSeconds === undefined) process.stderr.write(`pyflight: profiling process ${pid} until Ctrl+C…\n`);
  const result = await untilStopped((signal) => recordCpuProfile(target, options, signal,
    (p) => { if (tty) process.stderr.write(`\rpyflight: ${p.chunks} s, ${p.profile.samples} samples…`); }));
  if (tty) process.stderr.write('\r\x1b[K');
  const files = await writeExports(args, result.profile, `${script} (pid ${pid})`, result.rate);
  if (result.end.reason === 'targetExited') {
    process.stderr.write(`pyflight: ${result.end.message}\n`);
    process.exitCode = 1;
  }
  if (json) return { ...perfJson(result), ...files };
  return perfText(result, top) + writtenText(files);
}

/** `perf <master> --all-workers [--worker <pid>]`: every worker in parallel, merged (or one worker's share). */
async function runPerfWorkers(args: ParsedArgs, log: Logger): Promise<unknown> {
  const master = parsePid(args.positional[0]);
  const json = args.flags.has('json');
  const top = numberOption(args, '-n', true) ?? 15;
  const worker = numberOption(args, '--worker', true);
  const workers = await requireServerWorkers(master);
  if (worker !== undefined && !workers.includes(worker)) {
    throw usageError(`--worker ${worker} is not a worker of ${master}; its workers are ${workers.join(', ')}.`);
  }
  const label = (await listProcesses({ cpuSampleMs: 0, mainFrames: false })).find((p) => p.pid === master)?.server?.kind ?? 'server';
  const options = recordOptions(args, log);
  const targets = await Promise.all(workers.map(async (pid) => (await targetOf(pid)).target));
  const tty = !json && process.stderr.isTTY;
  if (options.durationSeconds === undefined) process.stderr.write(`pyflight: profiling the ${workers.length} workers of ${label} master ${master} until Ctrl+C…\n`);
  const result = await untilStopped((signal) => recordWorkersProfile(targets, options, signal,
    (p) => { if (tty) process.stderr.write(`\rpyflight: ${Math.round(p.elapsedMs / 1000)} s, ${p.merged.samples} samples from ${workers.length} workers…`); }));
  if (tty) process.stderr.write('\r\x1b[K');
  const perf: WorkersPerf = { master, label: `${label} master ${master}`, result, ...(worker !== undefined ? { worker } : {}),
    options: { native: Boolean(options.native), idle: Boolean(options.idle), gil: Boolean(options.gil), nonblocking: Boolean(options.nonblocking) } };
  const files = await writeExports(args, shownProfile(perf), worker !== undefined ? `worker ${worker} of ${perf.label}` : perf.label, result.rate);
  const lost = result.workers.filter((w) => w.error || result.results.get(w.pid)?.end.reason === 'targetExited');
  if (lost.length) {
    // A worker that died or could not be read is said, and the exit status says so, with the rest printed.
    process.stderr.write(`pyflight: ${lost.map((w) => `worker ${w.pid}: ${w.error ?? (result.results.get(w.pid)!.end as { message: string }).message}`).join('; ')}\n`);
    process.exitCode = 1;
  }
  if (json) return { ...workersPerfJson(perf), ...files };
  return workersPerfText(perf, top) + writtenText(files);
}
