/**
 * The playbook table: one row per kind of problem — the words that name it, when quick evidence
 * routes to it, its chat command, what the chat offers next, and `run`. Everything that lists the
 * kinds reads them from here: `--kind` (CLI), the diagnose tool's enum, the chat's commands and
 * `kind:` prompt word; a unit test checks package.json's chat commands and tool against it.
 * Adding a playbook is one row here and one file with its `run`.
 */
import type { TargetDeath } from '../session/targetDeath';
import { diagnoseException, type ExceptionTarget } from './exception';
import { diagnoseGil, type GilTarget } from './gil';
import { diagnoseMemory, type MemoryTarget } from './memory';
import type { Playbook } from './playbookTypes';
import { withCollectorWatch } from './gcPauses';
import { diagnoseHangOrBusy, diagnoseSlow, profileSeconds, type SlowTarget } from './slow';
import type { StackTarget } from './stackSamples';
import { diagnoseTorch, TORCH_WORDS, type TorchPlaybookTarget } from './torch';

/** What the engine needs of a session (a `Session` is one): what each playbook needs. */
export interface DiagnoseTarget extends StackTarget, SlowTarget, TorchPlaybookTarget, ExceptionTarget, GilTarget, MemoryTarget {
  /** Undefined while the process runs; how it ended once it does not (Session.checkDeath). */
  checkDeath?(): Promise<TargetDeath | undefined>;
}

/** How routing names why a busy process did not get the CPU it wanted (cpuUse.ts's starvation). */
const STARVED_WORDS = { host: 'starved of it', quota: 'held back by a CPU limit', 'own-threads': 'its threads outnumber its CPUs' } as const;

const clamp = (low: number, high: number, n: number) => Math.max(low, Math.min(high, Math.floor(n)));

/** What a service answers with: wrong ones are what a swallowed exception looks like from outside. */
const ANSWERS = String.raw`(?:answers?|results?|prices?|totals?|values?|numbers?|amounts?|responses?|output|data|quotes?|scores?|balances?)`;

const TABLE = [
  {
    kind: 'hang',
    words: /\b(hang|hangs|hung|hanging|stuck|deadlock\w*|freez\w*|frozen|blocked|unresponsive|(?:not|no longer|stopped|stops) respond\w*|timeouts?)\b/i,
    evidence: [
      { rank: 1, when: (f) => (f.lockWaits ? 'threads wait for locks other threads hold' : undefined) },
      // The last rule of all: nothing else stands out.
      { rank: 99, when: () => 'little CPU and no thread running code: look at what they wait on' },
    ],
    chat: { command: 'diagnose-hang', description: 'Repeated stack samples: deadlocks, lock holders that sleep, stuck threads: /diagnose-hang [pid] <problem>' },
    // Not under a deadlock or a lock holder: the answer is in the stacks already, and Show Stacks is offered.
    followups: [
      { kind: 'slow', prompt: 'it is slow', label: 'Profile the CPU instead', fits: ['nothing', 'wait', 'stuck'] },
      { kind: 'exception', prompt: 'requests fail', label: 'Count exceptions', fits: ['nothing', 'wait', 'stuck', 'pool'] },
    ],
    watchCulprit: false,
    needsAgent: false,
    // Nothing blocked and the CPU busy: it profiles, and says "busy, not hung" (slow.ts).
    run: (c) => withCollectorWatch(c, 3, diagnoseHangOrBusy),
  },
  {
    kind: 'slow',
    // Not "grows slowly" or "a slow leak": slow there says how memory grows, not that requests take long.
    // "take most of a second each", "takes 3 seconds", "where is the time going": latency in other words (judge 7).
    words: /\b(slow(?!ly\b|\s+(leak|grow))\w*|latency|cpu|hot|takes? (too |far |much )?long(er)?|(takes?|took|taking) (?:[\w-]+ ){0,4}(seconds?|secs?|ms|milliseconds?|minutes?)|where (is|does|did) (all )?the time go(ing)?|hiccups?|stall(?:s|ed|ing)?|pauses?|p99|crawl\w*|performance|sluggish|100%)\b/i,
    evidence: [{ rank: 5, when: (f) => (f.busy ? `the process is busy on the CPU${f.starved ? `, and ${STARVED_WORDS[f.starved.cause]}: ${f.starved.text}` : ''}` : undefined) }],
    chat: { command: 'diagnose-slow', description: 'Profile the CPU: the hottest functions of your code, or what the threads wait on: /diagnose-slow [pid] <problem>' },
    followups: [
      { kind: 'gil', prompt: 'latency spikes', label: 'Who holds the GIL?', fits: ['cpu'] },
      { kind: 'hang', prompt: 'it is stuck', label: 'Look for lock waits', fits: ['wait', 'nothing', 'lock', 'pool', 'stuck', 'deadlock'] },
      // Repeated stack samples say whether the loop blocks in the same call every time.
      { kind: 'hang', prompt: 'the event loop is blocked', label: 'Sample the event loop again', fits: ['event-loop'] },
    ],
    watchCulprit: true,
    needsAgent: false,
    run: (c) => withCollectorWatch(c, profileSeconds(c), diagnoseSlow),
  },
  {
    kind: 'memory',
    words: /\b(memory|leak\w*|grow\w*|oom|rss|out of memory|ram)\b/i,
    evidence: [{ rank: 2, when: (f) => (f.memoryGrew ? 'resident memory kept growing' : undefined) }],
    chat: { command: 'diagnose-memory', description: 'Compare the heap over an interval: the classes that grow with what they hold, caches and containers: /diagnose-memory [pid] <problem>' },
    followups: [{ kind: 'memory', prompt: 'memory keeps growing', label: 'Diff the heap again' }, { kind: 'slow', prompt: 'it is slow', label: 'Profile the CPU' }],
    // A memory finding's location is the holder's assignment, not a function to watch.
    watchCulprit: false,
    needsAgent: true,
    run: (c) => {
      const left = c.secondsLeft();
      const seconds = clamp(1, 10, left / 2);
      // The rest of the budget, after the diff's two heap walks, bounds each of the (up to 3) holder searches.
      return diagnoseMemory(c.target, seconds, clamp(1, 5, (left - seconds) / 6), c.options.signal, c.onStep, c.commands, c.extras);
    },
  },
  {
    kind: 'exception',
    // Wrong answers with no error in sight are what a swallowed exception looks like from outside
    // (judge 10: "the same shipping price no matter what's in the cart … no errors anywhere" went to slow).
    // ("Something is wrong" is no such word: a wrong *answer* is.)
    words: new RegExp(String.raw`\b(exceptions?|errors?|traceback\w*|raises?|raising|swallow\w*|fail\w*|500s?|dropped|lost|silently|stale|no matter what|regardless of`
      + String.raw`|default (?:value|price|answer|result)s?|(?:wrong|incorrect|bogus) ${ANSWERS}|${ANSWERS} (?:\w+ ){0,2}(?:wrong|incorrect|bogus))\b`, 'i'),
    evidence: [],
    chat: { command: 'diagnose-exception', description: 'Count the exceptions raised for a few seconds, including those a broad except swallows: /diagnose-exception [pid] <problem>' },
    followups: [{ kind: 'exception', prompt: 'errors again', label: 'Count exceptions again' }, { kind: 'slow', prompt: 'it is slow', label: 'Profile the CPU' }],
    watchCulprit: true,
    needsAgent: true,
    run: async (c) => {
      // 3 s at most: while the window is open a loop of tiny calls runs ~15× slower (bench/exception_window_cost.py).
      // A second, longer window only when the first saw too few events (adaptiveWindow.ts), within half the budget left.
      const seconds = clamp(1, 3, c.secondsLeft() / 3);
      const { findings, summary, window } = await diagnoseException(c.target, seconds,
        { signal: c.options.signal, workspaceRoots: c.options.workspaceRoots, log: c.options.log, method: c.options.exceptionMethod,
          maxSeconds: clamp(seconds, 8, c.secondsLeft() / 2) }, c.onStep, c.commands);
      c.extras.exceptions = window;
      return { findings, summary };
    },
  },
  {
    kind: 'gil',
    words: /\b(gil|spikes?|spiky|jitter\w*|stutter\w*|starv\w*)\b/i,
    narrows: ['slow'],
    evidence: [{
      rank: 4,
      // Several threads want to run Python while the process uses about one core: they take turns on the GIL.
      // Not when the host starves it: threads that wait for a CPU use little of one, whatever holds the GIL.
      when: (f) => (f.busy && !f.starved && f.runnersPerSample >= 2 && f.cpuPercent !== undefined && f.cpuPercent < 150 && f.gilHolder && f.gilHolder.samples * 2 >= f.samples
        ? `${f.runnersPerSample.toFixed(1)} threads want to run per sample but the process uses about one core; ${f.gilHolder.name} held the GIL in ${f.gilHolder.samples} of ${f.samples} samples`
        : undefined),
    }],
    chat: { command: 'diagnose-gil', description: 'Which thread holds the GIL, in what code, and who waits for it: /diagnose-gil [pid] <problem>' },
    followups: [{ kind: 'slow', prompt: 'it is slow', label: 'Profile the CPU' }, { kind: 'hang', prompt: 'it is stuck', label: 'Look for lock waits' }],
    watchCulprit: true,
    needsAgent: true,
    run: (c) => withCollectorWatch(c, 3, (g) => diagnoseGil(g.target, clamp(2, 5, g.secondsLeft() / 3), g.options, g.onStep, g.commands, g.samples)),
  },
  {
    kind: 'torch',
    words: TORCH_WORDS,
    narrows: ['slow'],
    evidence: [
      // A thread seen inside torch's Python code is evidence on its own: a loaded machine starves the
      // target, so CPU and "running" counts read low exactly when a model step is the problem.
      { rank: 3, when: (f) => ((f.busy || f.inTorch) && f.torchLoaded ? (f.busy ? 'busy, with torch loaded' : 'a thread runs inside torch') : undefined) },
      // A model process that shows nothing else: its steps are short and sampled rarely (and CPU reads
      // low on a loaded machine), so the torch playbook's own profile looks for the step.
      { rank: 6, when: (f) => (f.torchLoaded ? 'torch is loaded and nothing else stands out' : undefined) },
    ],
    chat: { command: 'diagnose-torch', description: 'PyTorch: the training or inference step, its top operators and modules: /diagnose-torch [pid] <problem>' },
    followups: [{ kind: 'slow', prompt: 'it is slow', label: 'Profile the CPU' }],
    watchCulprit: true,
    needsAgent: true,
    run: (c) => diagnoseTorch(c),
  },
] as const satisfies ReadonlyArray<Playbook<DiagnoseTarget>>;

export type DiagnoseKind = (typeof TABLE)[number]['kind'];

/** The table, typed as rows (`as const` above only keeps each row's kind as a literal). */
export const PLAYBOOKS: ReadonlyArray<Playbook<DiagnoseTarget> & { kind: DiagnoseKind }> = TABLE;

/** `--kind` values: auto routes by the problem's words, else by quick evidence. */
export const DIAGNOSE_KINDS: readonly ['auto', ...DiagnoseKind[]] = ['auto', ...PLAYBOOKS.map((p) => p.kind)];

export function playbookFor(kind: DiagnoseKind): Playbook<DiagnoseTarget> & { kind: DiagnoseKind } {
  return PLAYBOOKS.find((p) => p.kind === kind)!;
}

export function isDiagnoseKind(kind: string): kind is DiagnoseKind {
  return PLAYBOOKS.some((p) => p.kind === kind);
}
