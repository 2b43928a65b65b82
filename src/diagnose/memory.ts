/**
 * The memory playbook: the heap compared over an interval (pympler `mem diff`), the fastest-growing
 * types, and for the top ones what holds them — the referrer chain in the target up to a module
 * global or class attribute (`memHolders`), its container's size, the line that defines it — and
 * where they are created when tracemalloc already traces. vscode-free, like the engine.
 */
import { PyFlightError } from '../common/errors';
import { biggestContainer, chainText, createdText, holderName, searchText } from '../memory/holders';
import { classLocation, diffRows, formatBytes, formatCount, instancesCommand, isDiffBookkeeping, topGrowers, type MemDeltaRow } from '../memory/memModel';
import type { MemContainersResult, MemHoldersResult, WatchParams, WatchRecord } from '../protocol/helper';
import type { HelperCaller } from '../protocol/methods';
import type { DiagnosisExtras, DiagnoseStep } from './playbookTypes';
import type { WatchHandle } from './exception';
import { shortWhere, type Finding } from './report';

export interface MemoryTarget extends HelperCaller {
  startProbe(method: 'watch', params: WatchParams, options?: { source?: { file: string; line: number } }): WatchHandle;
  pid: number;
}

/** Growers whose holders are searched (each search is bounded by `maxSeconds` in the target). */
const HOLDER_GROWERS = 3;
const MIN_GROWTH_COUNT = 10;
const MIN_GROWTH_BYTES = 10 * 1024;
/** Seconds of the `__init__` watch that shows where the top Python-class grower is created. */
const CREATION_WATCH_SECONDS = 2;
/** Evaluated by the watch after each `__init__`: the call stack as (file, line, function) tuples, read back with -r. */
const STACK_EXPR = "[(f.filename, f.lineno, f.name) for f in __import__('traceback').extract_stack()]";

export async function diagnoseMemory(target: MemoryTarget, seconds: number, holderSeconds: number, signal: AbortSignal | undefined,
  onStep: DiagnoseStep, commands: string[], extras: DiagnosisExtras): Promise<{ findings: Finding[]; summary: string }> {
  onStep(`Comparing the heap ${seconds} s apart (pympler, through the PyFlightProfiler agent: it is loaded if not there yet).`);
  // Container lengths before the interval: for a built-in grower (dict, tuple …) the containers that grew are the holders.
  let before: MemContainersResult | undefined;
  try {
    before = await target.call('memContainers', { limit: 300 }, { signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    onStep(`Could not read container sizes before the interval (${PyFlightError.from(error).message}); built-in growers are ranked by size only.`);
  }
  const diff = await target.call('memDiff', { interval: seconds, limit: 30 }, { signal, onWaiting: (s) => onStep(`First heap snapshot taken; the second in ${s} s.`) });
  commands.push(`pyflight mem diff ${target.pid} --interval ${seconds} --limit 30`);
  extras.memDiff = diff;
  const growers = topGrowers(diffRows(diff), 30);
  // A handful of objects in an interval is noise (the agent's own work, a cache warming up), not a leak.
  const real = growers.filter((r) => !isDiffBookkeeping(r.type) && (r.count >= MIN_GROWTH_COUNT || r.size >= MIN_GROWTH_BYTES));
  const findings: Finding[] = [];
  let watched = false;
  for (const [i, r] of real.slice(0, HOLDER_GROWERS).entries()) {
    const holders = await searchHolders(target, r, before, holderSeconds, signal, onStep, commands);
    const finding = growerFinding(target.pid, r, diff.intervalSeconds, holders, i === 0);
    // Where they are created: tracemalloc when the target traces already, else one short watch on
    // the first Python class's __init__ with the call stack (a probe the Watch view shows; always removed).
    const inst = instancesCommand(r.type, target.pid);
    if (typeof holders !== 'string') {
      if (!watched && inst && holders.instances && holders.createdAt === null) {
        watched = true;
        finding.evidence.push(await creationSite(target, inst.module, inst.class, signal, onStep, commands));
        finding.next_steps = finding.next_steps.filter((step) => !step.startsWith('See where they are created'));
      } else {
        finding.evidence.push(createdText(holders));
      }
    }
    findings.push(finding);
  }
  const book = growers.filter((r) => isDiffBookkeeping(r.type));
  if (!findings.length) {
    findings.push({
      title: `Nothing grew in ${diff.intervalSeconds} s beyond pympler's own bookkeeping`, severity: 'info', location: null,
      evidence: [book.length ? `Only ${book.map((r) => `${r.type} ${formatBytes(r.size, true)}`).join(', ')} grew (pympler's first snapshot adds about one of each per type).` : 'No type grew.'],
      next_steps: ['Diff over a longer interval, or while the memory grows (e.g. under load).'], view: 'memory',
    });
  } else if (book.length) {
    findings[0].evidence.push(`Left out: ${book.map((r) => `${r.type} ${formatBytes(r.size, true)}`).join(', ')} (pympler's own first snapshot).`);
  }
  const f0 = findings[0];
  return { findings, summary: f0.severity === 'info' ? f0.title + '.' : `Memory grows: ${f0.title}.` };
}

async function searchHolders(target: MemoryTarget, r: MemDeltaRow, before: MemContainersResult | undefined, maxSeconds: number,
  signal: AbortSignal | undefined, onStep: DiagnoseStep, commands: string[]): Promise<MemHoldersResult | string> {
  const where = classLocation(r.type);
  if (!where) return `pympler's name ${r.type} is not a class name, so its holders cannot be searched.`;
  onStep(`Searching what holds ${r.type} (referrers up to a module global or class attribute, at most ${maxSeconds} s in the target).`);
  commands.push(`pyflight mem holders ${target.pid} ${where.module} ${where.class}`);
  try {
    return await target.call('memHolders', { module: where.module, class: where.class, samples: 5, maxSeconds,
      before: where.module === 'builtins' ? before?.containers : undefined }, { signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    return `The holder search failed: ${PyFlightError.from(error).message}`;
  }
}

function growerFinding(pid: number, r: MemDeltaRow, interval: number, holders: MemHoldersResult | string, first: boolean): Finding {
  const perSecond = (n: number) => (n / interval >= 10 ? formatCount(Math.round(n / interval)) : (n / interval).toFixed(1));
  const inst = instancesCommand(r.type, pid);
  const short = r.type.split('.').pop() ?? r.type;
  const growth = r.count > 0 ? `grow by ${perSecond(r.count)}/s` : `grow by ${formatBytes(r.size / interval, true)}/s`;
  const evidence = [`${formatBytes(r.size / interval, true)}/s, ${formatCount(r.count, true)} objects (${formatBytes(r.size, true)}) between two heap `
    + `snapshots ${interval} s apart${r.sizeApprox ? ' (size read back from KB/MB, ~)' : ''}.`];
  const nextSteps: string[] = [];
  const top = typeof holders === 'string' ? undefined : holders.holders[0];
  let title = `${short} objects ${growth} (${formatBytes(r.size, true)} in ${interval} s)`;
  let location: Finding['location'] = null;
  if (typeof holders === 'string') {
    evidence.push(holders);
  } else {
    if (holders.instances !== null) evidence.push(`${formatCount(holders.instances)} live instances of ${r.type} now.`);
    if (top) {
      const { path, size } = holderName(top);
      title = `${short} objects ${growth}, held by ${path} (${size})`;
      const box = top.steps[biggestContainer(top)];
      evidence.push(`Held by ${chainText(top)}.`,
        `${top.samples} of ${holders.sampled} sampled ${holders.builtin ? 'containers of them' : 'instances'} are held this way`
        + `${top.grown !== null && top.grown > 0 ? `; it gained ${formatCount(top.grown)} entries during the interval` : ''}.`);
      for (const other of holders.holders.slice(1, 3)) {
        const o = holderName(other);
        evidence.push(`Also held by ${o.path} (${o.size}): ${other.samples} of ${holders.sampled} samples.`);
      }
      if (top.definition) {
        location = { function: top.definition.what, file: top.definition.file, line: top.definition.line };
        evidence.push(`${top.definition.what} is assigned at ${top.definition.file}:${top.definition.line}.`);
      }
      nextSteps.push(`Bound ${path}${box.len !== null ? ` (${box.type}, ${formatCount(box.len)} entries)` : ''}${top.definition ? ` at ${top.definition.file.split('/').pop()}:${top.definition.line}` : ''}: `
        + 'evict old entries (an LRU with a maximum size, a TTL), remove entries when their work is done (unsubscribe, pop), or hold them weakly (weakref.WeakValueDictionary / WeakSet).');
    } else if (holders.builtin && !holders.sampled) {
      evidence.push(`No container of 64 or more entries that holds ${r.type} objects${holders.instances === null ? ' grew during the interval' : ''}: `
        + 'they are held one by one (e.g. as attributes of other growing objects) or freed soon.');
    } else {
      evidence.push(`No referrer chain reached a module global or class attribute within the bounds (${holders.unresolved} of ${holders.sampled} samples unresolved).`);
    }
    if (holders.heldInvisibly) {
      evidence.push(`${holders.heldInvisibly} of ${holders.sampled} samples are held by nothing the collector can see beyond their chain: `
        + 'a local variable of a function that is still running (e.g. a list built in a long loop) or C code.');
    }
    for (const f of holders.heldByFrames) evidence.push(`${f.samples} sample(s) are held by a local variable of ${f.function} (${f.file}:${f.line}), still running.`);
    evidence.push(searchText(holders));
  }
  if (inst) nextSteps.push(`See which objects they are: \`${inst.cli}\`.`);
  if (!top) nextSteps.push('Find the container that keeps them (a module-level list or dict, a cache without a bound) and bound it or drop entries.');
  if (inst && (typeof holders === 'string' || holders.createdAt === null)) {
    nextSteps.push(`See where they are created: \`pyflight watch ${pid} ${inst.module} ${inst.class} __init__ -n 3 -r --expr "${STACK_EXPR}"\`.`);
  }
  nextSteps.push(`Diff again over a longer interval to confirm it keeps growing: \`pyflight mem diff ${pid} --interval 60\`.`);
  return { title, severity: first ? (r.count > 0 ? 'high' : 'medium') : 'medium', location, evidence, next_steps: nextSteps, view: 'memory',
    ...(inst && !(typeof holders !== 'string' && holders.builtin) ? { instances: { module: inst.module, class: inst.class } } : {}) };
}

const STACK_FRAME = /\((['"])(.*?)\1, (\d+), (['"])(.*?)\4\)/g;

/** The frames of a watch record's stack that run before flight-profiler's wrapper: the caller of `__init__` last. */
export function callerFrames(value: string | null): Array<{ file: string; line: number; function: string }> {
  const frames = [...(value ?? '').matchAll(STACK_FRAME)].map((m) => ({ file: m[2], line: Number(m[3]), function: m[5] }));
  const wrapper = frames.findIndex((f) => /[\\/]flight_profiler[\\/]/.test(f.file));
  return wrapper < 0 ? [] : frames.slice(0, wrapper);
}

async function creationSite(target: MemoryTarget, module: string, cls: string, signal: AbortSignal | undefined, onStep: DiagnoseStep,
  commands: string[]): Promise<string> {
  const params: WatchParams = { module, class: cls, method: '__init__', expr: STACK_EXPR, raw: true, limit: 3 };
  onStep(`Watching ${cls}.__init__ for up to ${CREATION_WATCH_SECONDS} s to see where ${cls} objects are created.`);
  commands.push(`pyflight watch ${target.pid} ${module} ${cls} __init__ -n 3 -r --expr "${STACK_EXPR}"`);
  let probe: WatchHandle;
  try {
    probe = target.startProbe('watch', params);
  } catch (error) {
    return `Where they are created is not known: the watch on ${cls}.__init__ could not start (${PyFlightError.from(error).message}).`;
  }
  const records: WatchRecord[] = [];
  const sub = probe.onDidRecord((r) => records.push(r));
  const timer = setTimeout(() => probe.stop(), CREATION_WATCH_SECONDS * 1000);
  const onAbort = () => probe.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await probe.done;
  } catch (error) {
    return `Where they are created is not known: flight-profiler could not watch ${cls}.__init__ (${PyFlightError.from(error).message}); `
      + 'a class without its own __init__ (e.g. a bytes subclass) cannot be watched there.';
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    sub.dispose();
  }
  const sites = new Map<string, { count: number; chain: string }>();
  for (const r of records) {
    const frames = callerFrames(r.value);
    const caller = frames[frames.length - 1];
    if (!caller) continue;
    const key = `${caller.function} (${caller.file}:${caller.line})`;
    const chain = frames.slice(-4, -1).reverse().map((f) => `${f.function} (${shortWhere(f.file, f.line)})`).join(' ← ');
    const site = sites.get(key) ?? { count: 0, chain };
    site.count++;
    sites.set(key, site);
  }
  if (!sites.size) return `Where they are created is not known: no ${cls}.__init__ call was seen in ${CREATION_WATCH_SECONDS} s.`;
  return `Created in ${[...sites].map(([where, s]) => `${where}${s.chain ? `, called from ${s.chain}` : ''} (${s.count} of ${records.length} calls watched)`).join('; ')}.`;
}
