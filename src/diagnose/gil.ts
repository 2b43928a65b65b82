/**
 * The GIL / latency-spikes playbook: which thread holds the GIL, in what code, and who waits for it.
 * Evidence: stack samples first (read from outside; each thread's GIL flag and frames — taken
 * before anything talks to the agent, which would hand it the GIL), then gilstat for a few seconds
 * (flight-profiler's take_gil/drop_gil interceptor: hold and wait time per thread; py-spy samples of
 * the holder on an interpreter without those symbols), always turned off. `analyzeGil` is pure.
 */
import { mainFrame } from '../format/stackFormat';
import type { GilMeasure, GilstatParams, GilstatRecord, GilstatSummary, StackFrame, StackResult } from '../protocol/helper';
import type { Logger } from '../common/logger';
import type { HelperCaller } from '../protocol/methods';
import type { CpuProfile } from '../profile/model';
import { recordCpuProfile, type ProfileTarget } from '../profile/record';
import type { DiagnoseStep } from './playbookTypes';
import { shortWhere, type Finding } from './report';

export interface GilHandle {
  onDidRecord(listener: (record: GilstatRecord) => void): { dispose(): void };
  stop(): void;
  done: Promise<GilstatSummary>;
}

export interface GilTarget extends ProfileTarget, HelperCaller {
  startGilstat(params: GilstatParams): GilHandle;
}

interface ThreadGil {
  name: string;
  holdMs: number;
  waitMs: number;
  /** Stack samples in which the thread held the GIL, and where it was then. */
  heldInSamples: number;
  frames: Map<string, { frame: StackFrame; count: number }>;
}

/** A share as "96%"; capped at 100% (gilstat's intervals are measured a little short of their hold sums). */
const pct = (part: number, whole: number) => `${Math.min(100, Math.round((100 * part) / Math.max(1e-9, whole)))}%`;

/** The holder's code: its most frequent top frame of your own code while it held the GIL. */
function topCode(t: ThreadGil): { frame: StackFrame; count: number } | undefined {
  return [...t.frames.values()].sort((a, b) => b.count - a.count)[0];
}

/** "hog (gil_hog.py:18) in 97% of GIL-holding samples": the hottest own function of a py-spy --gil profile. */
export function gilProfileText(profile: CpuProfile): string | undefined {
  const top = profile.hot.filter((f) => f.kind === 'own').sort((a, b) => b.self - a.self)[0];
  if (!top || !profile.samples) return undefined;
  return `${top.function} (${shortWhere(top.file, top.line)}) was the running frame in ${Math.round(top.selfPercent)}% of ${profile.samples} samples taken only while a thread held the GIL`;
}

export function analyzeGil(samples: StackResult[], records: GilstatRecord[], measure: GilMeasure | undefined): Finding[] {
  const threads = new Map<string, ThreadGil>();
  const get = (name: string) => {
    let t = threads.get(name);
    if (!t) threads.set(name, t = { name, holdMs: 0, waitMs: 0, heldInSamples: 0, frames: new Map() });
    return t;
  };
  for (const s of samples) {
    for (const th of s.threads) {
      const t = get(th.name);
      if (!th.holdsGil) continue;
      t.heldInSamples++;
      const own = mainFrame(th.frames);
      if (!own) continue;
      const key = `${own.function}@${own.file}:${own.line}`;
      const seen = t.frames.get(key) ?? { frame: own, count: 0 };
      seen.count++;
      t.frames.set(key, seen);
    }
  }
  let elapsedMs = 0;
  for (const r of records) {
    elapsedMs += (r.elapsedSeconds || r.intervalSeconds) * 1000;
    for (const g of r.threads) {
      if (g.agent) continue;
      const t = get(g.thread);
      t.holdMs += g.intervalHoldMs;
      t.waitMs += g.intervalWaitMs;
    }
  }
  const sampled = measure === 'sampled';
  const all = [...threads.values()];
  const holder = records.length
    ? [...all].sort((a, b) => b.holdMs - a.holdMs)[0]
    : [...all].sort((a, b) => b.heldInSamples - a.heldInSamples)[0];
  if (!holder || (records.length ? holder.holdMs <= 0 : holder.heldInSamples === 0)) {
    return [{ title: 'No thread was seen holding the GIL: the process is idle or runs native code without it', severity: 'info', location: null,
      evidence: [`${samples.length} stack samples${records.length ? ` and ${records.length} gilstat reports` : ''}: no GIL holder among the Python threads.`],
      next_steps: ['Diagnose it as a hang (`--kind hang`) to see what the threads wait on.'] }];
  }
  const holdShare = records.length ? holder.holdMs / Math.max(1, elapsedMs) : holder.heldInSamples / Math.max(1, samples.length);
  const waiters = records.length && !sampled
    ? all.filter((t) => t !== holder && t.waitMs / Math.max(1, elapsedMs) >= 0.2).sort((a, b) => b.waitMs - a.waitMs)
    : [];
  const code = topCode(holder);
  const where = code ? `${code.frame.function} (${shortWhere(code.frame.file, code.frame.line)})` : 'code without Python frames';
  const evidence: string[] = [];
  if (records.length) {
    evidence.push(sampled
      ? `gilstat (sampled with py-spy: the interpreter has no take_gil/drop_gil symbols) over ${(elapsedMs / 1000).toFixed(1)} s: ${all.filter((t) => t.holdMs > 0).map((t) => `${t.name} held it ${pct(t.holdMs, elapsedMs)}`).join(', ')}.`
      : `gilstat (flight-profiler's take_gil/drop_gil interceptor) over ${(elapsedMs / 1000).toFixed(1)} s: `
        + all.filter((t) => t.holdMs > 0 || t.waitMs > 0).sort((a, b) => b.holdMs - a.holdMs)
          .map((t) => `${t.name} held ${pct(t.holdMs, elapsedMs)}, waited ${pct(t.waitMs, elapsedMs)}`).join('; ') + '.');
    const alerts = records.reduce((n, r) => n + r.alerts.filter((a) => a.event === 'wait' && a.thread !== holder.name).length, 0);
    const longest = Math.max(0, ...records.flatMap((r) => r.alerts.filter((a) => a.event === 'wait').map((a) => a.ms)));
    if (alerts) evidence.push(`${alerts} waits for the GIL over the threshold by other threads; the longest ${longest.toFixed(1)} ms.`);
  }
  evidence.push(`It held the GIL in ${holder.heldInSamples} of ${samples.length} stack samples${code ? `, at ${where} in ${code.count} of them` : ''}.`);
  const how = !records.length ? ' (in stack samples; gilstat gave no report)' : sampled ? ' (sampled)' : '';
  const title = `${holder.name} holds the GIL ${pct(holdShare, 1)} of the time${how}, in ${where}`
    + (waiters.length ? `; ${waiters.map((w) => `${w.name} (waits ${pct(w.waitMs, elapsedMs)})`).join(', ')} wait${waiters.length === 1 ? 's' : ''} for it` : '');
  const findings: Finding[] = [{
    title,
    severity: holdShare >= 0.5 && (waiters.length || sampled || !records.length) ? 'high' : 'medium',
    location: code ? { function: code.frame.function, file: code.frame.file, line: code.frame.line } : null,
    evidence,
    next_steps: [
      `Pure-Python work in ${holder.name} starves the other threads: move it to a process (multiprocessing, ProcessPoolExecutor), `
        + 'into code that releases the GIL (NumPy, a C extension), or break it into smaller pieces.',
      `See where ${holder.name} spends its time: \`pyflight perf ${samples[0]?.pid ?? '<pid>'} --gil -d 10\` (only samples holding the GIL).`,
    ],
    view: 'stacks',
  }];
  if (holdShare < 0.5) {
    findings[0].next_steps.unshift('No thread holds the GIL most of the time: latency spikes may come from elsewhere (I/O, locks); diagnose as slow or hang.');
  }
  return findings;
}

export async function diagnoseGil(target: GilTarget, seconds: number, options: { signal?: AbortSignal; workspaceRoots?: string[]; log?: Logger },
  onStep: DiagnoseStep, commands: string[], samples: StackResult[] = []): Promise<{ findings: Finding[]; summary: string; samples: StackResult[] }> {
  const { signal } = options;
  const want = 8;
  onStep(`Taking ${want} stack samples 0.25 s apart (from outside): which thread holds the GIL, and where.`);
  while (samples.length < want) {
    if (signal?.aborted) break;
    if (samples.length) await new Promise((r) => setTimeout(r, 250));
    samples.push(await target.call('stack', {}, { signal }));
  }
  commands.push(`pyflight stack ${target.pid} --json   (×${samples.length})`);
  // What runs while the GIL is held, from outside (py-spy --gil): the code of the holder, over more samples.
  onStep('Sampling for 2 s with py-spy, only while a thread holds the GIL (from outside).');
  let gilProfile: CpuProfile | undefined;
  try {
    gilProfile = (await recordCpuProfile(target, { durationSeconds: 2, gil: true, workspaceRoots: options.workspaceRoots, log: options.log }, signal)).profile;
    commands.push(`pyflight perf ${target.pid} --gil -d 2`);
  } catch (error) {
    options.log?.warn(`gil: py-spy --gil failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  onStep(`Measuring the GIL for ${seconds} s with gilstat (turned off afterwards).`);
  const records: GilstatRecord[] = [];
  let measure: GilMeasure | undefined;
  const gil = target.startGilstat({ intervalSeconds: 1 });
  const sub = gil.onDidRecord((r) => {
    records.push(r);
    measure = r.measure;
    onStep(`gilstat report ${records.length}: ${r.threads.filter((t) => !t.agent && t.intervalHoldMs > 0).slice(0, 3).map((t) => `${t.thread} held ${t.intervalHoldMs.toFixed(0)} ms`).join(', ') || 'no holder'}.`);
  });
  // Counted from the first report: loading the agent (first use) takes a moment before gilstat is on.
  const enough = gil.onDidRecord(() => { if (records.length >= seconds) gil.stop(); });
  const timer = setTimeout(() => gil.stop(), (seconds + 20) * 1000);
  const onAbort = () => gil.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  let failed: string | undefined;
  try {
    await gil.done;
  } catch (error) {
    failed = error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    sub.dispose();
    enough.dispose();
  }
  commands.push(`pyflight gilstat ${target.pid} --duration ${seconds} --interval 1`);
  const findings = analyzeGil(samples, records, measure);
  if (failed) findings[0].evidence.push(`gilstat could not measure (${failed}); the stack samples alone say this.`);
  const profiled = gilProfile && gilProfileText(gilProfile);
  if (profiled) findings[0].evidence.push(`py-spy --gil over 2 s: ${profiled}.`);
  return { findings, samples, summary: `${findings[0].title}.` };
}
