/**
 * Own-code time: each CPU sample is charged to the deepest own-code frame on its stack, so
 * time spent in the standard library or a package counts for the user's function that called it
 * (`_similarity` calling difflib, a handler calling `json.dumps`), at the line of that call. A
 * function's self time alone misses this: its own lines are cheap, the callees are not.
 */
import type { TargetProcess } from '../host/targetHost';
import { classifyFrame, parseFrame, type ClassifyOptions, type CpuProfile, type FrameInfo } from '../profile/model';

export interface OwnTime {
  function: string;
  module?: string;
  file?: string;
  /** The line of this function with the most charged samples (its own work, or the call into other code). */
  line?: number;
  /** Samples where this was the deepest own-code frame. */
  samples: number;
  percent: number;
  /** Of those, samples where this function's own code was running (the leaf). */
  self: number;
  /** Samples left out because they wait: a leaf line that is a blocking call (sleep, recv, a lock), or a
   * stdlib wait function below (select, Condition.wait). py-spy counts such a thread as active now and then. */
  waiting: number;
  /** The non-own function that took most of the rest (e.g. `SequenceMatcher.find_longest_match`, stdlib difflib). */
  topCallee?: { function: string; module?: string; kind: FrameInfo['kind']; samples: number };
}

interface Acc { info: FrameInfo; samples: number; self: number; waiting: number; lines: Map<number, number>; callees: Map<string, { info: FrameInfo; samples: number }> }

/** A source line that sleeps, waits for I/O or takes a lock (the helper's blocking.py reads lines the same way). */
export const BLOCKING_LINE = new RegExp([
  String.raw`(?<![\w.])(?:time\.|asyncio\.)?sleep\s*\(`,
  // C-level waits only: a wait written in Python (Event.wait, queue.get, Thread.join) has its own stdlib frame on top.
  String.raw`\.(recv|recv_into|recvfrom|accept|connect|sendall|select|poll|getaddrinfo|acquire)\s*\(`,
  String.raw`(?<![\w.])(input|select)\s*\(`,
  String.raw`^\s*(async\s+)?with\b[^#]*(lock|mutex|semaphore|condition)\w*\s*(:|,|\))`,
].join('|'), 'i');

/** `lineText(file, line)` gives the source line of an own frame when it can be read. */
export function ownCodeTime(profile: CpuProfile, options: ClassifyOptions = {},
  lineText: (file: string, line: number) => string | undefined = () => undefined): OwnTime[] {
  const blocking = new Map<string, boolean>();
  const isBlocking = (f: FrameInfo) => {
    if (!f.file || f.line === undefined) return false;
    const k = `${f.file}:${f.line}`;
    let b = blocking.get(k);
    if (b === undefined) blocking.set(k, b = BLOCKING_LINE.test(lineText(f.file, f.line) ?? ''));
    return b;
  };
  const cache = new Map<string, FrameInfo>();
  const info = (text: string) => {
    let i = cache.get(text);
    // idle: true marks the standard library's wait functions (Condition.wait, selectors' select) as `idle`.
    if (!i) cache.set(text, i = classifyFrame(parseFrame(text), { ...options, idle: true }));
    return i;
  };
  const accs = new Map<string, Acc>();
  for (const stack of profile.stacks) {
    const frames = stack.frames.map(info);
    let at = -1;
    for (let d = frames.length - 1; d >= 0; d--) if (frames[d].kind === 'own') { at = d; break; }
    if (at < 0) continue;
    const own = frames[at];
    const key = `${own.name}\0${own.file ?? ''}`;
    let acc = accs.get(key);
    if (!acc) accs.set(key, acc = { info: own, samples: 0, self: 0, waiting: 0, lines: new Map(), callees: new Map() });
    if ((at === frames.length - 1 && isBlocking(own)) || frames.slice(at + 1).some((f) => f.kind === 'idle')) {
      acc.waiting += stack.count;
      continue;
    }
    acc.samples += stack.count;
    if (own.line !== undefined) acc.lines.set(own.line, (acc.lines.get(own.line) ?? 0) + stack.count);
    if (at === frames.length - 1) {
      acc.self += stack.count;
    } else {
      // The deepest non-own Python frame names what the time went to better than the first callee (a wrapper).
      const callee = [...frames.slice(at + 1)].reverse().find((f) => f.kind === 'stdlib' || f.kind === 'library') ?? frames[at + 1];
      const ck = `${callee.name}\0${callee.file ?? ''}`;
      const c = acc.callees.get(ck) ?? { info: callee, samples: 0 };
      c.samples += stack.count;
      acc.callees.set(ck, c);
    }
  }
  const percent = (n: number) => (profile.samples ? Math.round((n / profile.samples) * 1000) / 10 : 0);
  return [...accs.values()].filter((acc) => acc.samples > 0).map((acc) => {
    const line = [...acc.lines].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0];
    const top = [...acc.callees.values()].sort((a, b) => b.samples - a.samples)[0];
    return {
      function: acc.info.name, ...(acc.info.module ? { module: acc.info.module } : {}), ...(acc.info.file ? { file: acc.info.file } : {}),
      ...(line !== undefined ? { line } : {}), samples: acc.samples, percent: percent(acc.samples), self: acc.self, waiting: acc.waiting,
      ...(top ? { topCallee: { function: top.info.name, ...(top.info.module ? { module: top.info.module } : {}), kind: top.info.kind, samples: top.samples } } : {}),
    };
  }).sort((a, b) => b.samples - a.samples || a.function.localeCompare(b.function));
}

/** Reads source lines of the target's files (its host reaches them, in a container too), cached. */
export function sourceLineReader({ pid, host }: TargetProcess): (file: string, line: number) => string | undefined {
  const files = new Map<string, string[] | undefined>();
  return (file, line) => {
    if (!files.has(file)) files.set(file, host.readTargetFile(pid, file)?.split('\n'));
    return files.get(file)?.[line - 1];
  };
}
