/**
 * Records a CPU profile of a running process with py-spy, from outside: nothing is loaded into the
 * target (no agent). py-spy runs in consecutive 1-second chunks (`record --duration 1 --format raw`)
 * so callers get the merged profile so far after every second; a chunk stopped early (Ctrl+C, a
 * stop button) is asked to write what it has (SIGINT), so stopping loses nothing.
 *
 * Measured on the 2-core dev machine (py-spy 0.4.3, CPython 3.11): each chunk samples its full
 * second; starting the next py-spy leaves ~0.1 s between chunks unsampled (5 chunks: 495 main-thread
 * samples in 5.5 s wall, one 5 s run: 499 in 5.1 s). A single long run could not report progress:
 * py-spy writes raw output only when it ends.
 */
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../common/errors';
import { silentLogger, type Logger } from '../common/logger';
import type { TargetHost, TargetProcess } from '../host/targetHost';
import type { HelperCaller } from '../protocol/methods';
import { checkPtracePermission, readPtraceEnvironment } from '../preflight/permissions';
import { findPySpy } from '../processes/pySpy';
import { readTargetFacts } from '../preflight/targetFacts';
import { CallTree } from './callTree';
import { profileOf, type CpuProfile } from './model';
import { sourceLineReader } from './sourceLines';
import { isPyflightThreadName } from './threads';

export interface CpuProfileOptions {
  /** Samples per second (py-spy `--rate`), default 100. */
  rate?: number;
  /** Whole seconds to record; without it, until `signal` aborts. */
  durationSeconds?: number;
  /** Native frames (C, C++, Cython, Rust) too (`--native`). */
  native?: boolean;
  /** Idle threads too (`--idle`). Samples that wait are `idle` either way (waits.ts). */
  idle?: boolean;
  /** Only samples holding the GIL (`--gil`). */
  gil?: boolean;
  /** Do not pause the target while sampling (`--nonblocking`): less overhead, less accurate. */
  nonblocking?: boolean;
  /** Folders of the user's own code (the workspace), for classifying frames. */
  workspaceRoots?: string[];
  /** An explicit py-spy executable (else next to the target's interpreter, then PATH). */
  pySpy?: string;
  /** Where the private temporary folder for py-spy's output is made (default: the OS temp dir). */
  tempRoot?: string;
  log?: Logger;
}

/** What the engine needs of a session: its pid, where it lives and, when known, the target's
 * interpreter. A session whose agent is loaded is also asked which threads are the agent's (never
 * loaded for it). */
export interface ProfileTarget extends TargetProcess {
  preflightResult?: { interpreter: { python: string } };
  readonly agentLoaded?: boolean;
}

export type ProfileEnd =
  | { reason: 'duration' }
  | { reason: 'stopped' }
  | { reason: 'targetExited'; message: string };

export interface ProfileProgress {
  profile: CpuProfile;
  /** 1-second chunks recorded so far. */
  chunks: number;
  elapsedMs: number;
}

export interface CpuProfileResult extends ProfileProgress {
  pid: number;
  rate: number;
  native: boolean;
  idle: boolean;
  gil: boolean;
  nonblocking: boolean;
  /** The py-spy executable used. */
  pySpy: string;
  end: ProfileEnd;
}

const CHUNK_SECONDS = 1;
/** A chunk that has not ended this long after its second is killed (py-spy hung reading the target). */
const CHUNK_WATCHDOG_MS = 30_000;
/** After SIGINT, py-spy writes its file and exits at once; SIGKILL if it has not within this. */
const STOP_GRACE_MS = 3000;

/** py-spy processes running now, killed if this process exits first (they would end within a second anyway). */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

export function pySpyArgs(pid: number, output: string, options: { rate: number; seconds: number; native?: boolean; idle?: boolean;
  gil?: boolean; nonblocking?: boolean }): string[] {
  // --threads: each stack starts with `thread (tid): name`, so PyFlight's own threads can be left out (threads.ts).
  return ['record', '--pid', String(pid), '--rate', String(options.rate), '--format', 'raw', '--full-filenames', '--threads',
    '-o', output, '--duration', String(options.seconds),
    ...(options.native ? ['--native'] : []), ...(options.idle ? ['--idle'] : []), ...(options.gil ? ['--gil'] : []),
    ...(options.nonblocking ? ['--nonblocking'] : [])];
}

function validate(options: CpuProfileOptions, signal: AbortSignal | undefined): { rate: number } {
  const rate = options.rate ?? 100;
  if (!Number.isInteger(rate) || rate <= 0 || rate > 10_000) {
    throw new PyFlightError(ErrorCode.BadArgument, `The sampling rate must be a whole number of samples per second (1–10000), got ${rate}.`,
      'py-spy samples 100 times a second by default.');
  }
  const d = options.durationSeconds;
  if (d !== undefined && (!Number.isInteger(d) || d <= 0)) {
    throw new PyFlightError(ErrorCode.BadArgument, `The duration must be a whole number of seconds, got ${d}.`, 'E.g. -d 10.');
  }
  if (d === undefined && !signal) {
    throw new PyFlightError(ErrorCode.BadArgument, 'A profile without a duration needs a way to stop it.', 'Pass a duration or an AbortSignal.');
  }
  return { rate };
}

/**
 * Records until the duration is over, `signal` aborts (then resolves with what was recorded, end
 * `stopped`), or the target exits (end `targetExited` with the samples recorded until then; throws
 * TARGET_EXITED when there are none). `onProgress` gets the merged profile after every chunk.
 * Whatever happens, no py-spy process and no temporary file is left behind.
 */
export async function recordCpuProfile(target: ProfileTarget, options: CpuProfileOptions = {}, signal?: AbortSignal,
  onProgress?: (progress: ProfileProgress) => void): Promise<CpuProfileResult> {
  const { rate } = validate(options, signal);
  const log = options.log ?? silentLogger;
  const pid = target.pid;
  const python = target.preflightResult?.interpreter.python;
  const pySpy = await findPySpy(python, options.pySpy);
  if (!(await target.host.isAlive(pid))) {
    throw new PyFlightError(ErrorCode.PidNotFound, `Process ${pid} is not running.`, 'Check the PID (e.g. with `pyflight processes`).');
  }
  const classify = { workspaceRoots: options.workspaceRoots, lineText: sourceLineReader(target),
    pyflightThreadIds: await agentThreadIds(target, signal, log) };
  // Each chunk is added to one tree as it comes (the cost of a chunk is its own size, not the
  // profile's). A progress profile reads that tree, so its object tree, if asked for later, may hold newer chunks.
  const calls = new CallTree(classify);
  const started = Date.now();
  let chunks = 0;
  let end: ProfileEnd | undefined;
  const progress = (): ProfileProgress => ({ profile: profileOf(calls), chunks, elapsedMs: Date.now() - started });
  const dir = await target.host.privateDir('pyflight-profile-', options.tempRoot);
  try {
    while (!end) {
      if (signal?.aborted) {
        end = { reason: 'stopped' };
        break;
      }
      if (options.durationSeconds !== undefined && chunks >= options.durationSeconds / CHUNK_SECONDS) {
        end = { reason: 'duration' };
        break;
      }
      const output = path.join(dir, `chunk-${chunks}.txt`);
      const args = pySpyArgs(pid, output, { ...options, rate, seconds: CHUNK_SECONDS });
      if (chunks === 0) log.info(`spawn: ${pySpy} ${args.join(' ')} (every ${CHUNK_SECONDS} s)`);
      const run = await runPySpy(target.host, pySpy, args, signal, log);
      const text = await fs.readFile(output, 'utf8').catch(() => '');
      await fs.rm(output, { force: true });
      calls.addCollapsedText(text);
      chunks++;
      const exited = saysTargetExited(run.output) || !(await target.host.isAlive(pid));
      if (exited) {
        end = { reason: 'targetExited', message: `Process ${pid} exited after ${((Date.now() - started) / 1000).toFixed(1)} s of profiling; the profile has the samples recorded until then.` };
        break;
      }
      if (run.code !== 0 && !signal?.aborted) {
        if (/No space left on device/.test(run.output)) {
          throw new PyFlightError(ErrorCode.WriteFailed, `No space left in ${path.dirname(dir)} for py-spy's samples: the disk is full.`,
            'Free some space there (or point TMPDIR at another folder), then record again.');
        }
        throw await pySpyError(pid, pySpy, run, target.host);
      }
      onProgress?.(progress());
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  const result = progress();
  log.info(`profile ${pid}: ${result.profile.samples} samples in ${chunks} chunks, ended: ${end.reason}`);
  if (end.reason === 'targetExited' && result.profile.samples === 0) {
    throw new PyFlightError(ErrorCode.TargetExited, `Process ${pid} exited before any sample was recorded.`,
      'Start the program again and profile the new process.');
  }
  return { ...result, pid, rate, native: Boolean(options.native), idle: Boolean(options.idle), gil: Boolean(options.gil),
    nonblocking: Boolean(options.nonblocking), pySpy, end };
}

/** The agent's own threads as the agent names them (`threading._active`, read through the door by
 * `stack` with the agent's threads included), as the host's thread ids py-spy reports: asked only of
 * a session whose agent is already loaded (it is never loaded for this). Empty when it cannot tell:
 * py-spy's names and the threads' frames still tell. */
export async function agentThreadIds(target: ProfileTarget, signal?: AbortSignal, log: Logger = silentLogger): Promise<number[]> {
  // A Session can `call` the helper; the CLI's and the bench's bare targets cannot.
  const caller = typeof (target as Partial<HelperCaller>).call === 'function' ? (target as unknown as HelperCaller) : undefined;
  if (!target.agentLoaded || !caller) return [];
  try {
    const stack = await caller.call('stack', { includeAgentThreads: true }, { signal });
    return stack.threads.filter((t) => isPyflightThreadName(t.name)).map((t) => t.tid);
  } catch (error) {
    log.debug(`profile ${target.pid}: the agent did not say which threads are its own (${PyFlightError.from(error).message}); telling them by name and frames`);
    return [];
  }
}

export interface PySpyRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr as they came (py-spy writes its `py-spy>` notes to stdout, errors to stderr). */
  output: string;
}

/** Runs one py-spy chunk; on abort asks it to stop (SIGINT: it writes what it sampled), then kills it. */
function runPySpy(host: TargetHost, exe: string, args: string[], signal: AbortSignal | undefined, log: Logger): Promise<PySpyRun> {
  return new Promise((resolve, reject) => {
    const child = host.spawnPySpy(exe, args);
    running.add(child);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => { for (const c of running) c.kill('SIGKILL'); });
    }
    let output = '';
    const collect = (chunk: string) => { if (output.length < 65536) output += chunk; };
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.setEncoding('utf8');
      stream.on('data', collect);
    }
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGINT');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    };
    const watchdog = setTimeout(() => {
      log.warn(`py-spy ${child.pid} did not finish its chunk; killing it`);
      child.kill('SIGKILL');
    }, CHUNK_SECONDS * 1000 + CHUNK_WATCHDOG_MS);
    signal?.addEventListener('abort', stop, { once: true });
    const done = () => {
      running.delete(child);
      clearTimeout(watchdog);
      if (killTimer) clearTimeout(killTimer);
      signal?.removeEventListener('abort', stop);
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      done();
      reject(error.code === 'ENOENT' || error.code === 'EACCES'
        ? new PyFlightError(ErrorCode.ProfilerNotInstalled, `py-spy could not be started (${exe}: ${error.code}).`,
          'Install it into the target\'s environment: <python> -m pip install py-spy, or put py-spy on PATH.', { tool: 'py-spy', looked: [exe] })
        : error);
    });
    child.once('close', (code, sig) => {
      done();
      if (code !== 0) log.warn(`py-spy exited: code=${code} signal=${sig}: ${output.trim().split('\n').slice(0, 3).join(' | ')}`);
      resolve({ code, signal: sig, output });
    });
    if (signal?.aborted) stop();
  });
}

/** py-spy's failure in PyFlight's words: permission (as preflight says it), a gone target, or py-spy's own line. */
/** py-spy's note when the target exited while it sampled (it still writes what it had). */
export function saysTargetExited(output: string): boolean {
  return /stopped sampling because process exited/i.test(output);
}

export async function pySpyError(pid: number, exe: string, run: PySpyRun, host: TargetHost): Promise<PyFlightError> {
  const firstLine = run.output.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('py-spy>'))?.replace(/^Error:\s*/, '') ?? `exit ${run.code ?? run.signal}`;
  if (/permission denied|operation not permitted|EPERM|os error 1\b|os error 13\b/i.test(run.output)) {
    try {
      if (process.platform === 'linux') checkPtracePermission(await readTargetFacts(pid, host), await readPtraceEnvironment(host));
    } catch (error) {
      if (error instanceof PyFlightError) return error;
    }
    return new PyFlightError(ErrorCode.PermissionDenied, `Not allowed to read process ${pid} with py-spy (${firstLine}).`,
      'Run VS Code (or pyflight) as the process\'s owner or as root; in containers start with --cap-add=SYS_PTRACE.');
  }
  if (!(await host.isAlive(pid))) {
    return new PyFlightError(ErrorCode.TargetExited, `Process ${pid} exited.`, 'Start the program again and profile the new process.');
  }
  return new PyFlightError(ErrorCode.AttachFailed, `py-spy could not profile process ${pid}: ${firstLine}`,
    `Run \`${exe} record --pid ${pid} --duration 1\` to see py-spy's whole message; see the PyFlight log.`);
}
