/**
 * PyFlight's own threads in a target, told apart from the application's so that their samples are
 * never counted: once the agent is loaded, the process has flight-profiler's agent thread (an
 * asyncio loop in `EpollSelector.select`), its connection and plugin pools (`concurrent.futures`
 * `_worker`s) and what PyFlight's bootstrap starts. Idle, py-spy still counted them active now and
 * then on a busy machine, and they led the profile (`_worker` 53 %, the culprit second). A thread
 * is PyFlight's when (1) py-spy names it so (`--threads`: `thread (tid): name`, names read from
 * the target's memory), (2) the agent reported its id, or (3) it starts in flight-profiler's or
 * PyFlight's code (the first frame after threading's and the pools' bootstrap); a thread found so
 * once stays PyFlight's for the rest of the profile. Pure, no I/O.
 */
import type { FrameInfo } from './frames';

/** A thread as py-spy's `--threads` frame names it. */
export interface ThreadRef {
  tid: number;
  name?: string;
}

/** py-spy's thread frame: `thread (12345): MainThread`, `thread (12345)`, `thread (0x7F…)` (macOS). */
const THREAD_FRAME = /^thread \((0x[0-9a-fA-F]+|\d+)\)(?:: (.*))?$/;

export function parseThreadFrame(text: string): ThreadRef | undefined {
  const m = THREAD_FRAME.exec(text);
  if (!m) return undefined;
  const tid = m[1].startsWith('0x') ? Number.parseInt(m[1].slice(2), 16) : Number(m[1]);
  return m[2] ? { tid, name: m[2] } : { tid };
}

/** flight-profiler names its threads `flight-profiler-agent`, `flight-profiler-recv-_N`,
 * `flight-profiler-worker-_N`; its GIL statistics thread is `gil_stat`; PyFlight's are `pyflight-…`. */
const PYFLIGHT_NAME = /^(flight-profiler-|pyflight-|gil_stat$)/;

export function isPyflightThreadName(name: string | undefined): boolean {
  return name !== undefined && PYFLIGHT_NAME.test(name);
}

/** Standard-library frames every thread or pool task starts in: the thread's own function is below them. */
const BOOTSTRAP = new Set(['Thread._bootstrap', 'Thread._bootstrap_inner', 'Thread.run', '_worker', '_WorkItem.run']);

export function isBootstrapFrame(info: FrameInfo): boolean {
  return (info.kind === 'stdlib' || info.kind === 'idle') && BOOTSTRAP.has(info.name)
    && (info.module === 'threading' || info.module === 'concurrent.futures.thread');
}

/** flight-profiler's wrappers run on the application's threads, around its functions (watch, trace): not a thread of ours. */
const FLIGHT_PROFILER_WRAPPERS = /[\\/]flight_profiler[\\/]common[\\/](aop_decorator|bytecode_transformer|code_wrapper_entity)\.py$/;
const FLIGHT_PROFILER = /[\\/]flight_profiler[\\/]/;
/** PyFlight's in-target code: the bootstrap (staged as `…/pyflight-agent-<pid>-…/agent_bootstrap.py`) and its package. */
const PYFLIGHT_FILE = /[\\/](pyflight[-_]agent[^\\/]*[\\/]|agent_bootstrap\.py$)/;

/** Code that only PyFlight's or flight-profiler's own threads start in. */
export function isPyflightCode(info: FrameInfo): boolean {
  if (info.name.startsWith('_pyflight')) return true;
  if (!info.file) return false;
  return (FLIGHT_PROFILER.test(info.file) && !FLIGHT_PROFILER_WRAPPERS.test(info.file)) || PYFLIGHT_FILE.test(info.file);
}

/** The samples of PyFlight's threads left out of a profile, and which threads they were. */
export class PyflightThreads {
  samples = 0;
  /** By tid (0: a stack without a thread frame, e.g. from a file), with the name py-spy gave and the samples left out. */
  readonly threads = new Map<number, { name?: string; samples: number }>();
  private readonly ids: Set<number>;

  constructor(ids: Iterable<number> = []) {
    this.ids = new Set(ids);
  }

  /** True (and counted) when a sample of `thread` (none: unknown) whose first own frame is or is
   * not PyFlight's code belongs to a PyFlight thread. The thread is remembered. */
  claims(thread: ThreadRef | undefined, startsInPyflightCode: boolean, count: number): boolean {
    const ours = startsInPyflightCode || (thread !== undefined && (this.ids.has(thread.tid) || isPyflightThreadName(thread.name)));
    if (!ours) return false;
    if (thread) this.ids.add(thread.tid);
    this.add(thread?.tid ?? 0, thread?.name, count);
    return true;
  }

  private add(tid: number, name: string | undefined, count: number): void {
    this.samples += count;
    const known = this.threads.get(tid);
    if (known) {
      known.samples += count;
      known.name ??= name;
    } else {
      this.threads.set(tid, { ...(name !== undefined ? { name } : {}), samples: count });
    }
  }

  /** Adds another profile's left-out samples (a merge of workers' profiles). */
  absorb(other: PyflightThreads): void {
    for (const [tid, t] of other.threads) this.add(tid, t.name, t.samples);
  }
}

/** "12 samples of PyFlight's own threads left out (flight-profiler-agent, flight-profiler-worker-_0)", or undefined. */
export function pyflightThreadsText(left: { samples: number; threads: ReadonlyMap<number, { name?: string }> }): string | undefined {
  if (!left.samples) return undefined;
  const names = [...new Set([...left.threads.values()].map((t) => t.name).filter((n): n is string => Boolean(n)))].sort();
  const shown = names.length > 4 ? [...names.slice(0, 4), `${names.length - 4} more`] : names;
  return `${left.samples.toLocaleString('en-US')} sample${left.samples === 1 ? '' : 's'} of PyFlight's own threads left out`
    + (shown.length ? ` (${shown.join(', ')})` : '');
}
