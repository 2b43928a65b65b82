/**
 * CPU spent pickling what a process pool's tasks carry. multiprocessing.Pool and ProcessPoolExecutor
 * pickle every task's arguments in a thread of their own (Pool._handle_tasks, the queue's feeder) and
 * unpickle them in the worker: the profile shows ForkingPickler.dumps under that thread, no line of
 * the program, and the request threads only wait in `Pool.starmap`. Judge 14: a recommendation
 * service passed its whole 30,000-item catalog in every task ("No own-code function uses the CPU
 * itself; the top is ForkingPickler.dumps"). The call that submits comes from the stack samples
 * (the program's frame under the pool's map/apply/submit), and what it sends from its source.
 */
import { isStdlibFrame } from '../format/stackFormat';
import type { CpuProfile } from '../profile/model';
import type { StackFrame, StackResult } from '../protocol/helper';
import { locationWords, type ModuleNamer } from './mainModule';
import { shortWhere, type Finding } from './report';
import { isLibraryFrame } from './threadWords';

/** A frame of the pool's machinery that pickles a task for the worker (as py-spy names frames). */
const PICKLING = /^(ForkingPickler\.dumps|_ForkingPickler\.dumps|dumps) \(.*multiprocessing[\\/]reduction\.py:\d+\)$/;
const FEEDER = /^(Pool\._handle_tasks|Queue\._feed|_ConnectionBase\.send) \(.*multiprocessing[\\/](pool|queues|connection)\.py:\d+\)$/;
/** The calls that hand tasks to a pool, as the helper names their frames. */
const SUBMITS: readonly { fn: RegExp; file: RegExp }[] = [
  { fn: /^Pool\.(map|starmap|apply|imap|imap_unordered|map_async|starmap_async|apply_async|_map_async)$/, file: /multiprocessing[\\/]pool\.py$/ },
  { fn: /^(ProcessPoolExecutor\.(submit|map)|Executor\.map)$/, file: /concurrent[\\/]futures[\\/](process|_base)\.py$/ },
];
/** Below this share of the CPU samples the pickling is not what to look at. */
const MIN_SHARE = 0.2;

interface Submitter { frame: StackFrame; via: string; count: number }

/** The program's frames that call a pool's map/apply/submit in the stack samples, most seen first. */
function submitters(samples: readonly StackResult[]): Submitter[] {
  const seen = new Map<string, Submitter>();
  for (const s of samples) {
    const here = new Set<string>();
    for (const t of s.threads) {
      const i = t.frames.findIndex((f) => SUBMITS.some((p) => p.fn.test(f.function) && p.file.test(f.file ?? '')));
      if (i < 0) continue;
      const caller = t.frames.slice(i + 1).find((f) => f.kind === 'python' && !isStdlibFrame(f) && !isLibraryFrame(f));
      if (!caller?.file || !caller.line) continue;
      const key = `${caller.file}:${caller.line}`;
      const entry = seen.get(key) ?? { frame: caller, via: t.frames[i].function, count: 0 };
      if (!here.has(key)) entry.count++; // samples it was in, not threads
      here.add(key);
      seen.set(key, entry);
    }
  }
  return [...seen.values()].sort((a, b) => b.count - a.count);
}

/** The statements above `line` (same function, up to 40 lines) that assign the names the call passes. */
function argumentLines(file: string, line: number, lineText: (file: string, line: number) => string | undefined): { line: number; text: string }[] {
  const call = lineText(file, line) ?? '';
  const inside = call.slice(call.indexOf('(') + 1);
  const names = new Set([...inside.matchAll(/\b([A-Za-z_]\w*)\b/g)].map((m) => m[1]).filter((n) => !/^(self|None|True|False)$/.test(n)));
  const out: { line: number; text: string }[] = [];
  for (let n = line - 1; n >= Math.max(1, line - 40) && names.size; n--) {
    const text = lineText(file, n);
    if (text === undefined) break;
    if (/^\s*(async\s+)?def\s/.test(text)) break; // the function's start
    const m = /^\s*([A-Za-z_]\w*)\s*=(?!=)/.exec(text);
    if (m && names.has(m[1])) {
      out.unshift({ line: n, text: text.trim() });
      names.delete(m[1]);
    }
  }
  return out;
}

/** The CPU samples (not waiting) in a pool's pickling of a task, and all of them; `share` undefined under `MIN_SHARE`. */
export interface PoolPickling { pickling: number; total: number; share?: number }

export function poolPickling(profile: CpuProfile): PoolPickling {
  const cpu = profile.stacks.filter((s) => !s.idle);
  const total = cpu.reduce((n, s) => n + s.count, 0);
  const pickling = cpu.filter((s) => s.frames.some((f) => PICKLING.test(f)) && s.frames.some((f) => FEEDER.test(f))).reduce((n, s) => n + s.count, 0);
  return total && pickling / total >= MIN_SHARE ? { pickling, total, share: pickling / total } : { pickling, total };
}

/**
 * The finding when pickling pool tasks takes `MIN_SHARE` of the CPU samples or more (`counts`, from
 * poolPickling): the call that submits them and what it sends; undefined when no submitting call was
 * in the samples.
 */
export function poolPicklingFinding({ pickling, total }: PoolPickling, samples: readonly StackResult[], lineText: (file: string, line: number) => string | undefined,
  pid: number, nameOf: ModuleNamer): Finding | undefined {
  const [top, ...others] = submitters(samples);
  if (!top) return undefined;
  const { frame } = top;
  const call = (lineText(frame.file!, frame.line!) ?? '').trim();
  const args = argumentLines(frame.file!, frame.line!, lineText);
  const share = `${((pickling / total) * 100).toFixed(1)}%`;
  return {
    title: `${frame.function} sends its pool tasks' arguments through pickle: ${share} of the CPU samples pickle them (in the pool's task-feeding thread, ForkingPickler.dumps), `
      + `for \`${call}\`; the workers unpickle each task again`,
    severity: 'high',
    about: 'cpu',
    location: { function: frame.function, file: frame.file, line: frame.line },
    evidence: [
      `${pickling} of ${total} CPU samples were in multiprocessing's pickling of a task (reduction.py, under Pool._handle_tasks or the queue's feeder thread): every argument of every task is pickled, sent through a pipe and unpickled in a worker.`,
      `The call that submits them, in ${top.count} of ${samples.length} stack samples: ${frame.function} at ${shortWhere(frame.file, frame.line)} → ${top.via}: \`${call}\`.`,
      ...(args.length ? [`What it sends, built just above: ${args.map((a) => `\`${a.text}\` (line ${a.line})`).join('; ')}.`] : []),
      ...(others.length ? [`Also submitting: ${others.slice(0, 3).map((o) => `${o.frame.function} (${shortWhere(o.frame.file, o.frame.line)})`).join(', ')}.`] : []),
      'The threads that wait for the results show only the wait (ApplyResult.get), and a worker shows the unpickling as waiting in its queue: neither is where the cost is made.',
    ],
    next_steps: [
      'Send less per task: give the workers the big data that does not change once (the pool\'s `initializer=` that sets a module global, or a global the workers inherit by fork) and pass only what varies (ids, a small slice).',
      'If the work per task is small, do it in the process itself: pickling what it needs may cost more than the work.',
      `Measure one call: \`pyflight trace ${pid} ${nameOf(frame.file)} ${locationWords(frame.function)}\` shows how long each submitting call takes.`,
    ],
    view: 'profile',
  };
}
