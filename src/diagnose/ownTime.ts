/**
 * Own-code time: each CPU sample is charged to the deepest own-code frame on its stack, so
 * time spent in the standard library or a package counts for the user's function that called it
 * (`_similarity` calling difflib, a handler calling `json.dumps`), at the line of that call. A
 * function's self time alone misses this: its own lines are cheap, the callees are not.
 */
import { classifyFrame, parseFrame, type ClassifyOptions, type CpuProfile, type FrameInfo } from '../profile/model';
import { BLOCKING_LINE } from '../profile/waits';

// One table of what waiting looks like (src/profile/waits.ts), one reader of the target's source lines.
export { BLOCKING_LINE } from '../profile/waits';
export { sourceLineReader } from '../profile/sourceLines';

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
  /** Of `samples`, those inside an asyncio loop callback (`Handle._run` below): time the event loop ran nothing else. */
  inLoop: number;
  /** The non-own function that took most of the rest (e.g. `SequenceMatcher.find_longest_match`, stdlib difflib). */
  topCallee?: { function: string; module?: string; kind: FrameInfo['kind']; samples: number };
  /** The non-own function its lines call into most (`json.dumps`, where the time then goes to json.encoder's internals): what "call it less" names. */
  topEntry?: { function: string; module?: string; samples: number };
  /** Every sample of it had only a script's `<module>` or threading's bootstrap above it: the outermost
   * function of its thread (a `main()` or a worker's loop), which may never return — a trace of it records nothing. */
  threadEntry?: boolean;
}

/** A frame that starts a thread or a script (threading's `_bootstrap*` / `Thread.run`, runpy, a `<module>`): what is above a thread's outermost function. */
const startsThread = (f: FrameInfo) => f.name === '<module>' || ((f.kind === 'stdlib' || f.kind === 'idle') && /(^|\.)(_bootstrap|_bootstrap_inner|run|_run_code|_run_module_as_main)$/.test(f.name)
  && /^(threading|runpy)$/.test(f.module ?? ''));

/** asyncio runs every callback and task step through `Handle._run` (asyncio/events.py). */
const isLoopCallback = (f: FrameInfo) => f.name === 'Handle._run' && f.module === 'asyncio.events';

interface Acc { info: FrameInfo; samples: number; entrySamples: number; self: number; waiting: number; inLoop: number; lines: Map<number, number>; callees: Map<string, { info: FrameInfo; samples: number }>; entries: Map<string, { info: FrameInfo; samples: number }> }

/** A profile frame's text, parsed and classified once per distinct text. */
function frameReader(options: ClassifyOptions): (text: string) => FrameInfo {
  const cache = new Map<string, FrameInfo>();
  return (text) => {
    let i = cache.get(text);
    if (!i) cache.set(text, i = classifyFrame(parseFrame(text), options));
    return i;
  };
}

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
  // The standard library's wait functions (Condition.wait, selectors' select) are `idle`.
  const info = frameReader(options);
  const accs = new Map<string, Acc>();
  for (const stack of profile.stacks) {
    const frames = stack.frames.map(info);
    let at = -1;
    for (let d = frames.length - 1; d >= 0; d--) if (frames[d].kind === 'own') { at = d; break; }
    if (at < 0) continue;
    const own = frames[at];
    const key = `${own.name}\0${own.file ?? ''}`;
    let acc = accs.get(key);
    if (!acc) accs.set(key, acc = { info: own, samples: 0, entrySamples: 0, self: 0, waiting: 0, inLoop: 0, lines: new Map(), callees: new Map(), entries: new Map() });
    // stack.idle: the profile's own verdict (waits.ts), e.g. a server's idle loop below the own frame.
    if (stack.idle || (at === frames.length - 1 && isBlocking(own)) || frames.slice(at + 1).some((f) => f.kind === 'idle')) {
      acc.waiting += stack.count;
      continue;
    }
    acc.samples += stack.count;
    if (frames.slice(0, at).every(startsThread)) acc.entrySamples += stack.count;
    if (frames.slice(0, at).some(isLoopCallback)) acc.inLoop += stack.count;
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
      const entry = frames[at + 1];
      const ek = `${entry.name}\0${entry.file ?? ''}`;
      const e = acc.entries.get(ek) ?? { info: entry, samples: 0 };
      e.samples += stack.count;
      acc.entries.set(ek, e);
    }
  }
  const percent = (n: number) => (profile.samples ? Math.round((n / profile.samples) * 1000) / 10 : 0);
  return [...accs.values()].filter((acc) => acc.samples > 0).map((acc) => {
    const line = [...acc.lines].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0];
    const top = [...acc.callees.values()].sort((a, b) => b.samples - a.samples)[0];
    const entry = [...acc.entries.values()].sort((a, b) => b.samples - a.samples)[0];
    return {
      function: acc.info.name, ...(acc.info.module ? { module: acc.info.module } : {}), ...(acc.info.file ? { file: acc.info.file } : {}),
      ...(line !== undefined ? { line } : {}), samples: acc.samples, percent: percent(acc.samples), self: acc.self, waiting: acc.waiting, inLoop: acc.inLoop,
      ...(top ? { topCallee: { function: top.info.name, ...(top.info.module ? { module: top.info.module } : {}), kind: top.info.kind, samples: top.samples } } : {}),
      ...(entry ? { topEntry: { function: entry.info.name, ...(entry.info.module ? { module: entry.info.module } : {}), samples: entry.samples } } : {}),
      ...(acc.info.name !== '<module>' && acc.entrySamples === acc.samples ? { threadEntry: true } : {}),
    };
  }).sort((a, b) => b.samples - a.samples || a.function.localeCompare(b.function));
}

/** A caller that holds the CPU time of several own functions: `commonCaller`. */
export interface CommonCaller {
  function: string;
  module?: string;
  file?: string;
  /** Its line with the most samples on the way to the first function (the call). */
  line?: number;
  /** Samples (not waiting) with it on the stack. */
  samples: number;
  /** The own functions below it that the time is charged to, most first: [function, samples]. */
  below: Array<[string, number]>;
}

/** No single function's own time leads when the first has less than this share of the CPU samples. */
const SPREAD_BELOW = 0.5;
/** The caller must hold at least this share, and twice the first function's. */
const CALLER_HOLDS = 0.7;

/**
 * When the CPU time is spread over several own functions of one call (judge 10: collation_key 45 %,
 * its generator 32 %, _rebuild 19.5 %, all of it inside SuggestIndex._rebuild, which the lead did
 * not name), the deepest own function on the first one's stacks that holds most of the CPU samples:
 * the call to name. Undefined when the first function leads alone, or no such caller exists (a
 * thread's outermost function, `<module>`, is never it: it holds everything).
 */
export function commonCaller(profile: CpuProfile, charged: readonly OwnTime[], cpuSamples: number, options: ClassifyOptions = {}): CommonCaller | undefined {
  const first = charged[0];
  if (!first || first.samples >= SPREAD_BELOW * cpuSamples) return undefined;
  const firstKey = `${first.function}\0${first.file ?? ''}`;
  const info = frameReader(options);
  interface Candidate { info: FrameInfo; samples: number; onFirst: number; depth: number; lines: Map<number, number>; below: Map<string, number> }
  const candidates = new Map<string, Candidate>();
  let firstStacks = 0;
  for (const stack of profile.stacks) {
    if (stack.idle) continue;
    const frames = stack.frames.map(info);
    const own = frames.map((f, d) => ({ f, d })).filter(({ f }) => f.kind === 'own');
    if (!own.length) continue;
    const deepest = own[own.length - 1].f;
    const deepestKey = `${deepest.name}\0${deepest.file ?? ''}`;
    const onFirst = deepestKey === firstKey;
    if (onFirst) firstStacks += stack.count;
    const seen = new Set<string>();
    for (const [i, { f }] of own.entries()) {
      if (f.name === '<module>' || frames.slice(0, own[i].d).every(startsThread)) continue; // everything is below these
      const key = `${f.name}\0${f.file ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const c = candidates.get(key) ?? { info: f, samples: 0, onFirst: 0, depth: 0, lines: new Map(), below: new Map() };
      c.samples += stack.count;
      c.below.set(deepest.name, (c.below.get(deepest.name) ?? 0) + stack.count);
      if (onFirst) {
        c.onFirst += stack.count;
        c.depth = Math.max(c.depth, i);
        if (f.line !== undefined) c.lines.set(f.line, (c.lines.get(f.line) ?? 0) + stack.count);
      }
      candidates.set(key, c);
    }
  }
  const best = [...candidates.values()]
    .filter((c) => c.onFirst >= 0.9 * firstStacks && c.samples >= CALLER_HOLDS * cpuSamples && c.samples >= 2 * first.samples)
    .sort((a, b) => b.depth - a.depth || a.samples - b.samples)[0];
  if (!best) return undefined;
  const line = [...best.lines].sort((a, b) => b[1] - a[1])[0]?.[0];
  return {
    function: best.info.name, ...(best.info.module ? { module: best.info.module } : {}), ...(best.info.file ? { file: best.info.file } : {}),
    ...(line !== undefined ? { line } : {}), samples: best.samples,
    below: [...best.below].sort((a, b) => b[1] - a[1]),
  };
}
