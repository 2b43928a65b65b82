/**
 * Garbage-collection pauses, read from outside while the slow playbook profiles (the helper's
 * `gcWatch`, python/pyflight_helper/gc_state.py). A full collection stops every thread while it walks
 * every object of the oldest generation: with a million long-lived objects that is a stall of a second
 * or more every so often, which a CPU profile charges to whatever line allocated at that moment
 * (judge 13: "the event loop is blocked in _product_card.<listcomp>" for 1-2 s gen-2 pauses).
 */
import { ErrorCode, PyFlightError } from '../common/errors';
import type { GcPause, GcWatchResult } from '../protocol/helper';
import type { HelperCaller } from '../protocol/methods';
import type { TargetProcess } from '../host/targetHost';
import { cpuDuring } from './cpuUse';
import type { DiagnoseStep, PlaybookContext, PlaybookOutcome } from './playbookTypes';
import { SEVERITY_RANK, summaryFrom, type Finding, type Severity } from './report';

/** A pause anyone sees in a request's latency; below it collections are part of the CPU cost. */
const NOTICED_PAUSE_MS = 100;
/** Pauses this long, or this share of the time in collections, make garbage collection the culprit. */
const STALL_PAUSE_MS = 250;
const STALL_SHARE = 0.2;
const NOTICED_SHARE = 0.1;
/** An oldest generation this big makes each full collection a long stall (~0.5 s per million objects on a server CPU). */
const BIG_OLD_GENERATION = 500_000;

/**
 * A playbook run (hang, slow, gil) while the collector is watched from outside over the same seconds
 * and, when a full collection is due but has not come, up to the budget. Collections that stall the
 * process come first: a profile charges their time to whatever line allocated when they began, stack
 * samples show threads "running" there, and the GIL looks held (the collector holds it).
 * `enoughAfter`: the seconds the run itself watches for (its profile or samples).
 */
export async function withCollectorWatch<T extends HelperCaller & TargetProcess>(context: PlaybookContext<T>, enoughAfter: number,
  run: (context: PlaybookContext<T>) => Promise<PlaybookOutcome>): Promise<PlaybookOutcome> {
  const { target, options } = context;
  const stop = new AbortController();
  const stopWatch = () => stop.abort();
  options.signal?.addEventListener('abort', stopWatch, { once: true });
  const watching = watchCollector(target, Math.max(enoughAfter, Math.floor(context.secondsLeft() - 2)), enoughAfter, stop.signal, context.onStep)
    .catch(() => undefined);
  try {
    const { value: outcome, use } = await cpuDuring(target, () => run(context));
    if (outcome.findings[0]?.about === 'deadlock') return outcome;
    const watched = await watching;
    if (watched?.supported) context.commands.push(`pyflight gc ${target.pid} -d ${Math.max(1, Math.round(watched.seconds))}   (the garbage collector, read from outside)`);
    const found = gcPauseFinding(watched, target.pid, use.cpuPercent, outcome.findings.some((f) => f.view === 'profile'));
    if (!found) {
      const note = bigOldGenerationNote(watched);
      return note ? { findings: [...outcome.findings, note], summary: outcome.summary } : outcome;
    }
    // A stall a request feels leads; findings made partly of its time follow, one step lower.
    const findings = found.severity === 'high'
      ? [found, ...outcome.findings.filter((f) => f.about !== 'nothing').map((f) => ({ ...f, severity: f.severity === 'high' || f.severity === 'critical' ? 'medium' as const : f.severity }))]
      : [...outcome.findings.filter((f) => SEVERITY_RANK[f.severity] <= SEVERITY_RANK.high), found, ...outcome.findings.filter((f) => SEVERITY_RANK[f.severity] > SEVERITY_RANK.high)];
    return { findings, summary: summaryFrom(findings) };
  } finally {
    stop.abort();
    options.signal?.removeEventListener('abort', stopWatch);
    await watching;
  }
}

/**
 * Watches the collector for up to `seconds`; after `enoughAfter` s it ends once a full collection was
 * seen (or the oldest generation is too small to stall). Undefined when it cannot: another interpreter
 * binary than the helper's, a version whose collector it does not know; a cancel still throws.
 */
export async function watchCollector(target: HelperCaller, seconds: number, enoughAfter: number, signal: AbortSignal | undefined,
  onStep: DiagnoseStep): Promise<GcWatchResult | undefined> {
  const onProgress = (stage: string, detail?: string | null) => {
    if (stage !== 'waitingForFull') return;
    const [old, left] = (detail ?? '').split(' ').map(Number);
    onStep(`${objects(old)} live in the oldest generation and no full garbage collection has run yet: watching the collector up to ${Math.round(left)} s more (a full collection stops every thread while it walks them).`);
  };
  try {
    return await target.call('gcWatch', { seconds: Math.max(1, Math.min(120, seconds)), enoughAfter }, { signal, onProgress });
  } catch (error) {
    if (PyFlightError.from(error).code === ErrorCode.Cancelled && signal?.aborted) throw error;
    return undefined;
  }
}

/** The oldest generation's objects: those its last full collection kept and those moved in since (what the next one walks). */
function oldGeneration(watched: Extract<GcWatchResult, { supported: true }>): number | null {
  return watched.longLived === null ? null : watched.longLived + (watched.longLivedPending ?? 0);
}

/** "1.32 M objects", "240,000 objects". */
function objects(n: number): string {
  return n >= 1_000_000 ? `${(n / 1_000_000).toFixed(2)} M objects` : `${Math.round(n).toLocaleString('en-US')} objects`;
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function generationWord(p: GcPause): string {
  return p.generation === 2 ? 'full (generation 2)' : p.generation === null ? (p.ongoing ? 'unfinished' : 'unattributed') : `generation ${p.generation}`;
}

/**
 * The finding when collections stalled the process noticeably during the watch: its longest pauses,
 * the share of the time in collections (and of the CPU the process used), and the oldest generation
 * they walk; undefined when they did not. `cpuPercent`: the process's CPU over the same seconds.
 */
export function gcPauseFinding(watched: GcWatchResult | undefined, pid: number, cpuPercent?: number, profiled = false): Finding | undefined {
  if (!watched?.supported || watched.seconds <= 0) return undefined;
  const longest = watched.pauses.reduce((m, p) => Math.max(m, p.ms), 0);
  const share = watched.gcMs / (watched.seconds * 1000);
  if (longest < NOTICED_PAUSE_MS && share < NOTICED_SHARE) return undefined;
  const severity: Severity = longest >= STALL_PAUSE_MS || share >= STALL_SHARE ? 'high' : 'medium';
  const full = watched.pauses.filter((p) => p.generation === 2);
  const long = watched.pauses.filter((p) => p.ms >= NOTICED_PAUSE_MS);
  const old = oldGeneration(watched);
  const which = full.length
    ? `${full.length} full collection${full.length === 1 ? '' : 's'} in ${watched.seconds.toFixed(0)} s took up to ${seconds(Math.max(...full.map((p) => p.ms)))}`
    : `collections took up to ${seconds(longest)} (${watched.gcMs.toFixed(0)} ms of ${watched.seconds.toFixed(0)} s)`;
  const title = `Garbage collection stalls the process: ${which}, stopping every thread`
    + (old !== null && old >= 100_000 ? `; ${objects(old)} live in the oldest generation, and each full collection walks them all` : '');
  const cpuShare = cpuPercent && cpuPercent > 0 ? watched.gcMs / (watched.seconds * 10 * cpuPercent) : undefined;
  return {
    title,
    severity,
    about: 'gc',
    location: null,
    evidence: [
      `The collector, read from outside every 5 ms for ${watched.seconds.toFixed(1)} s: ${watched.collections[2]} full, ${watched.collections[1]} generation-1 and ${watched.collections[0]} generation-0 collections; `
        + `${seconds(watched.gcMs)} in collections (${(share * 100).toFixed(1)}% of the time${cpuShare !== undefined ? `, about ${Math.min(100, cpuShare * 100).toFixed(0)}% of the CPU time the process used` : ''}).`,
      `Pauses of ${NOTICED_PAUSE_MS} ms or more: ${long.length ? long.slice(0, 6).map((p) => `${seconds(p.ms)} ${generationWord(p)} at ${p.atSeconds.toFixed(1)} s`).join(', ') + (long.length > 6 ? ', …' : '') : 'none'}.`
        + ' While the collector runs no Python code runs in any thread (it holds the GIL): every request in flight waits for it.',
      ...(old !== null ? [`The oldest generation holds ${objects(old)} (${objects(watched.longLived!)} after its last full collection, ${objects(watched.longLivedPending ?? 0)} moved in since); full collections freed ${watched.collected[2].toLocaleString('en-US')} objects in all during the watch`
        + `${full.length && watched.collected[2] < (old ?? 0) / 100 ? ': they walk long-lived objects and find almost nothing to free' : ''}.`] : []),
      ...(profiled ? ['A CPU profile charges a collection\'s time to whatever Python line allocated when it began: the CPU findings below include that time.'] : []),
    ],
    next_steps: [
      'Call `gc.freeze()` once the long-lived data is built (after start-up loading, before serving; in a pre-fork server, before forking): frozen objects are never walked again. '
        + '`gc.freeze()` after loading is how Instagram and others removed these pauses.',
      'Make the long-lived data cheaper to collect: fewer container objects (tuples of plain values, `__slots__` classes, arrays, one dict instead of one object per row); objects that hold no containers are not tracked at all.',
      `See which types fill the heap: PyFlight: Memory Census (loads the agent), or \`pyflight mem summary ${pid}\`.`,
      'Run full collections less often with `gc.set_threshold(…)` (each one still stalls as long), and measure with `gc.callbacks` timing each collection.',
    ],
  };
}

/**
 * A note when no collection stalled during the watch but the oldest generation is big enough that
 * the next full one will (every so often: the watch may have fallen between two). Undefined otherwise.
 */
export function bigOldGenerationNote(watched: GcWatchResult | undefined): Finding | undefined {
  const old = watched?.supported ? oldGeneration(watched) : null;
  if (!watched?.supported || old === null || old < BIG_OLD_GENERATION) return undefined;
  if (watched.pauses.some((p) => p.ms >= NOTICED_PAUSE_MS)) return undefined;
  return {
    title: `${objects(old)} live in the oldest generation: no full garbage collection ran in the ${watched.seconds.toFixed(0)} s watched, but each one walks them all and stops every thread meanwhile`,
    severity: 'info',
    about: 'gc',
    location: null,
    evidence: [`The collector since the process started: ${watched.collectionsSinceStart[2]} full collections; during the watch ${watched.collections.join(', ')} collections of generations 0, 1, 2.`],
    next_steps: ['If the slowness comes every so often for a second or so, diagnose again with a longer budget (`--budget 90`) to catch a full collection, or call `gc.freeze()` after loading the long-lived data.'],
  };
}

/** `pyflight gc <pid>`'s text: the collections and the pauses a request would feel. */
export function gcWatchText(watched: GcWatchResult): string {
  if (!watched.supported) return `The garbage collector could not be read from outside: ${watched.reason}.`;
  const long = watched.pauses.filter((p) => p.ms >= 50);
  const short = watched.pauses.length - long.length;
  return [
    `Watched the garbage collector for ${watched.seconds.toFixed(1)} s (${watched.polls} reads${watched.ended.startsWith('unreadable') ? `; ${watched.ended}` : ''}).`,
    `Collections: ${watched.collections[0]} of generation 0, ${watched.collections[1]} of generation 1, ${watched.collections[2]} full; ${seconds(watched.gcMs)} collecting (${(watched.gcMs / (watched.seconds * 10)).toFixed(1)}% of the time).`,
    ...(watched.longLived !== null ? [`Oldest generation: ${objects(oldGeneration(watched)!)} (${objects(watched.longLived)} after its last full collection, ${objects(watched.longLivedPending ?? 0)} moved in since; ${watched.collectionsSinceStart[2]} full collections since the process started).`] : []),
    long.length ? `Pauses of 50 ms or more (and ${short} shorter):\n${long.map((p) => `  ${p.atSeconds.toFixed(2).padStart(7)} s  ${seconds(p.ms).padStart(7)}  ${generationWord(p)}`).join('\n')}`
      : `No pause of 50 ms or more (${short} shorter).`,
  ].join('\n');
}
