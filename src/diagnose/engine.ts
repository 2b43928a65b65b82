/**
 * `diagnose(session, problem, options, onStep)`: a deterministic diagnosis of a running process,
 * vscode-free (the CLI, the chat participant and the tests run this same code). It routes the
 * problem to hang / slow / memory (the problem's words, else a few stack samples), gathers evidence
 * (stack samples; a py-spy CPU profile; a memory diff through the agent) and turns it into findings,
 * culprit first. No language model is involved.
 */
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { hottestPath, type CpuProfile, type HotFunction } from '../profile/model';
import { recordCpuProfile, type CpuProfileResult, type ProfileTarget } from '../profile/record';
import type { ExceptionWindowResult, MemDiffResult, StackResult } from '../protocol/helper';
import { diagnoseException, type ExceptionTarget } from './exception';
import { diagnoseGil, type GilTarget } from './gil';
import { analyzeHang } from './hang';
import { diagnoseMemory, type MemoryTarget } from './memory';
import { ownCodeTime, sourceLineReader } from './ownTime';
import { cpuDuring, gatherQuickEvidence, routeByEvidence } from './quickEvidence';
import { shortWhere, type DiagnoseKind, type DiagnosisReport, type Finding } from './report';
import { diagnoseTorch, TORCH_WORDS, type TorchCapable } from './torch';

/** What the engine needs of a session (a `Session` is one). */
export type DiagnoseTarget = ProfileTarget & TorchCapable & ExceptionTarget & GilTarget & MemoryTarget;

export interface DiagnoseOptions {
  kind?: 'auto' | DiagnoseKind;
  /** Seconds the whole diagnosis may take, roughly (default 30). */
  budgetSeconds?: number;
  signal?: AbortSignal;
  /** Folders of the user's own code, for the CPU profile's own/library split. */
  workspaceRoots?: string[];
  log?: Logger;
  /** The exception playbook's evidence: the exception window (default), or `watch` -e on profile candidates only. */
  exceptionMethod?: 'window' | 'watch';
  /** How the kind was asked for, in routedBy: `--kind exception` (the default), `/diagnose-exception`. */
  askedAs?: string;
}

/** Extra results for callers that can show them (the chat's flame graph button). */
export interface DiagnosisExtras {
  profile?: CpuProfileResult;
  stacks?: StackResult;
  memDiff?: MemDiffResult;
  exceptions?: ExceptionWindowResult;
}

export type DiagnoseStep = (message: string) => void;

const WORDS: Array<[DiagnoseKind, RegExp]> = [
  ['hang', /\b(hang|hangs|hung|hanging|stuck|deadlock\w*|freez\w*|frozen|blocked|unresponsive|not respond\w*|timeouts?)\b/i],
  ['memory', /\b(memory|leak\w*|grow\w*|oom|rss|out of memory|ram)\b/i],
  ['slow', /\b(slow\w*|latency|cpu|hot|takes? (too )?long|performance|sluggish|100%)\b/i],
  ['gil', /\b(gil|spikes?|spiky|jitter\w*|stutter\w*|starv\w*)\b/i],
  ['torch', TORCH_WORDS],
  ['exception', /\b(exceptions?|errors?|traceback\w*|raises?|raising|swallow\w*|fail\w*|500s?|dropped|lost|silently)\b/i],
];

/** The kind the problem's words name, when exactly one does. "latency spikes" and "inference is slow":
 * gil and torch are more specific than slow. */
export function kindFromWords(problem: string): DiagnoseKind | undefined {
  let hits = WORDS.filter(([, re]) => re.test(problem)).map(([k]) => k);
  if (hits.includes('gil') || hits.includes('torch')) hits = hits.filter((k) => k !== 'slow');
  return hits.length === 1 ? hits[0] : undefined;
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const done = () => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); };
  const timer = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new PyFlightError(ErrorCode.Cancelled, 'The diagnosis was stopped.', 'Run it again when ready.');
}

async function sampleStacks(target: DiagnoseTarget, count: number, gapMs: number, signal: AbortSignal | undefined, onStep: DiagnoseStep,
  into: StackResult[] = []): Promise<StackResult[]> {
  for (let i = 0; i < count; i++) {
    checkAborted(signal);
    if (into.length) await sleep(gapMs, signal);
    into.push(await target.call('stack', {}, { signal }));
    onStep(`Stack sample ${into.length}: ${summarizeSample(into[into.length - 1])}`);
  }
  return into;
}

function summarizeSample(s: StackResult): string {
  const count = (a: string) => s.threads.filter((t) => t.activity === a).length;
  return `${s.threads.length} threads — ${count('running')} running, ${count('blocked')} blocked on locks, ${count('waiting')} waiting, ${count('sleeping')} sleeping`;
}

export async function diagnose(target: DiagnoseTarget, problem: string, options: DiagnoseOptions = {},
  onStep: DiagnoseStep = () => undefined, extras: DiagnosisExtras = {}): Promise<DiagnosisReport> {
  const started = Date.now();
  const budget = Math.max(5, options.budgetSeconds ?? 30);
  const { signal } = options;
  const commands: string[] = [];
  const samples: StackResult[] = [];
  let kind: DiagnoseKind;
  let routedBy: string;
  const asked = options.kind && options.kind !== 'auto' ? options.kind : undefined;
  const fromWords = kindFromWords(problem);
  if (asked) {
    kind = asked;
    routedBy = `asked for (${options.askedAs ?? `--kind ${asked}`})`;
  } else if (fromWords) {
    kind = fromWords;
    routedBy = `the problem's words ("${problem.trim()}")`;
  } else {
    onStep('The problem\'s words do not decide: reading CPU, memory and thread states for about 2 s.');
    const evidence = await gatherQuickEvidence(target.pid, () => sampleStacks(target, 4, 500, signal, onStep, samples));
    ({ kind, routedBy } = routeByEvidence(evidence));
  }
  onStep(`Diagnosing ${kind === 'exception' ? 'an' : 'a'} ${kind} problem (${routedBy}).`);
  let findings: Finding[];
  let summary: string;
  if (kind === 'hang') {
    ({ findings, summary } = await diagnoseHang(target, samples, signal, onStep, commands, extras));
  } else if (kind === 'slow') {
    const seconds = Math.max(1, Math.min(10, Math.floor(budget - (Date.now() - started) / 1000 - 2)));
    const measured = await cpuDuring(target.pid, () => diagnoseSlow(target, seconds, options, onStep, commands, extras));
    ({ findings, summary } = measured.value);
    const { sampleShare } = measured.value;
    const profile = extras.profile;
    const sampled = profile ? profile.profile.samples / Math.max(1, (profile.elapsedMs / 1000) * profile.rate) : 1;
    // py-spy counts a thread in a blocking call as active now and then; the process's own CPU time does not.
    const cpu = measured.cpuPercent;
    const busy = cpu !== undefined ? Math.min(sampled, cpu / 100) : sampled;
    if (busy < 0.25) {
      // Slow but mostly idle: the time goes to waiting. Look at what the threads wait on.
      onStep(`The process used ${(busy * 100).toFixed(0)}% of a core during the profile: slow means waiting here; sampling stacks.`);
      const waits = await diagnoseHang(target, samples, signal, onStep, commands, extras);
      const real = waits.findings.filter((f) => f.severity !== 'info');
      if (real.length) {
        const why = [
          ...(sampled < 0.25 ? [`The CPU profile shows threads running in only ${(sampled * 100).toFixed(0)}% of its sample slots (${profile!.profile.samples} samples in ${(profile!.elapsedMs / 1000).toFixed(1)} s at ${profile!.rate} Hz).`] : []),
          ...(busy < sampled ? [`The process used ${cpu!.toFixed(0)}% of a core during the ${(profile!.elapsedMs / 1000).toFixed(1)} s CPU profile (its CPU time in /proc)${sampled >= 0.25 ? `, though py-spy counted threads active in ${(sampled * 100).toFixed(0)}% of its sample slots: a thread in a blocking call counts as active at times` : ''}.`] : []),
        ];
        // A CPU finding worth under 5% of a core is the odd sample of a thread that mostly waits (a
        // sleeping loop caught on the line after its sleep), not a cost to look at.
        const minor = findings.filter((f) => (sampleShare.get(f) ?? 1) * busy < 0.05);
        if (minor.length) why.push(`${minor.length} CPU finding${minor.length === 1 ? '' : 's'} under 5% of a core left out (${minor.map((f) => f.location?.function ?? f.title).join(', ')}).`);
        for (const f of real) f.evidence.push(...why);
        findings = [...real, ...findings.filter((f) => !minor.includes(f)).map((f) => ({ ...f, severity: f.severity === 'high' ? 'medium' as const : f.severity }))];
        summary = `Waiting, not computing: ${real[0].title}.`;
      } else if (cpu !== undefined && cpu / 100 * 2 < sampled) {
        // py-spy saw twice the activity the CPU time allows: its "CPU" findings are mostly threads at blocking calls.
        summary = `Mostly waiting, not computing: the process used ${cpu!.toFixed(0)}% of a core, and no lock wait or blocked event loop showed in the stacks. `
          + 'The CPU findings below count threads py-spy saw at blocking calls; look at what those calls wait for (a remote service, a queue).';
      }
    }
  } else if (kind === 'torch') {
    ({ findings, summary } = await diagnoseTorch(target, () => budget - (Date.now() - started) / 1000, options, onStep, commands, extras));
  } else if (kind === 'gil') {
    const seconds = Math.max(2, Math.min(5, Math.floor((budget - (Date.now() - started) / 1000) / 3)));
    ({ findings, summary } = await diagnoseGil(target, seconds, { signal, workspaceRoots: options.workspaceRoots, log: options.log }, onStep, commands, samples));
  } else if (kind === 'exception') {
    // 3 s at most: while the window is open a loop of tiny calls runs ~15× slower (bench/exception_window_cost.py).
    const seconds = Math.max(1, Math.min(3, Math.floor((budget - (Date.now() - started) / 1000) / 3)));
    let window: ExceptionWindowResult | undefined;
    ({ findings, summary, window } = await diagnoseException(target, seconds,
      { signal, workspaceRoots: options.workspaceRoots, log: options.log, method: options.exceptionMethod }, onStep, commands));
    extras.exceptions = window;
  } else {
    const left = budget - (Date.now() - started) / 1000;
    const seconds = Math.max(1, Math.min(10, Math.floor(left / 2)));
    // The rest of the budget, after the diff's two heap walks, bounds each of the (up to 3) holder searches.
    const holderSeconds = Math.max(1, Math.min(5, Math.floor((left - seconds) / 6)));
    ({ findings, summary } = await diagnoseMemory(target, seconds, holderSeconds, signal, onStep, commands, extras));
  }
  if (kind === 'hang' && !asked && !fromWords && findings[0]?.severity === 'info') {
    // Nothing stuck and nothing busy, and the words did not say what is wrong: something may fail quietly.
    onStep('No thread is stuck: counting exceptions for 2 s, in case something fails quietly.');
    const quiet = await diagnoseException(target, 2, { signal, workspaceRoots: options.workspaceRoots, log: options.log }, onStep, commands);
    if (quiet.findings.some((f) => f.severity === 'high' || f.severity === 'critical')) {
      kind = 'exception';
      routedBy += '; then no thread was stuck, and exceptions were raised and swallowed';
      ({ findings, summary } = { findings: [...quiet.findings, ...findings], summary: quiet.summary });
      extras.exceptions = quiet.window;
    }
  }
  if (samples.length && kind !== 'hang' && kind !== 'gil') commands.unshift(`pyflight stack ${target.pid} --json   (×${samples.length}, to route)`);
  return { pid: target.pid, problem, kind, routedBy, summary, findings, commands_run: commands, elapsedMs: Date.now() - started };
}

async function diagnoseHang(target: DiagnoseTarget, samples: StackResult[], signal: AbortSignal | undefined, onStep: DiagnoseStep,
  commands: string[], extras: DiagnosisExtras): Promise<{ findings: Finding[]; summary: string }> {
  const first = Date.now();
  const want = 5;
  if (samples.length < want) onStep(`Taking ${want - samples.length} more stack samples, 0.5 s apart.`);
  await sampleStacks(target, want - samples.length, 500, signal, onStep, samples);
  const span = samples[samples.length - 1].capturedAt - samples[0].capturedAt || Date.now() - first;
  commands.push(`pyflight stack ${target.pid} --json   (×${samples.length} over ${(span / 1000).toFixed(1)} s)`);
  extras.stacks = samples[samples.length - 1];
  onStep('Looking for lock cycles, lock holders that sleep or wait, and threads that never moved.');
  const findings = analyzeHang(samples, span);
  const top = findings[0];
  const summary = top.severity === 'critical' ? `${top.title}.`
    : top.severity === 'info' ? `No thread is stuck on a lock. ${top.title}.`
      : `Threads wait on a lock. ${top.title}.`;
  return { findings, summary };
}

function ownHot(profile: CpuProfile): HotFunction[] {
  return profile.hot.filter((f) => f.kind === 'own');
}

/** A slow diagnosis, and for each CPU finding the share of the profile's samples it stands for. */
interface SlowDiagnosis {
  findings: Finding[];
  summary: string;
  sampleShare: Map<Finding, number>;
}

async function diagnoseSlow(target: DiagnoseTarget, seconds: number, options: DiagnoseOptions, onStep: DiagnoseStep,
  commands: string[], extras: DiagnosisExtras): Promise<SlowDiagnosis> {
  onStep(`Recording a ${seconds} s CPU profile with py-spy (from outside; nothing is loaded into the process).`);
  const result = await recordCpuProfile(target, { durationSeconds: seconds, workspaceRoots: options.workspaceRoots, log: options.log }, options.signal,
    (p) => onStep(`Profiling: ${p.chunks} of ${seconds} s, ${p.profile.samples} samples.`));
  commands.push(`pyflight perf ${target.pid} -d ${seconds}`);
  extras.profile = result;
  const { profile } = result;
  const perfStep = `See the whole profile: \`pyflight perf ${target.pid} -d 10\`, or PyFlight: Record CPU Profile… for the flame graph.`;
  const sampleShare = new Map<Finding, number>();
  if (!profile.samples) {
    return {
      sampleShare,
      summary: `No thread used the CPU in ${seconds} s: the process waits rather than computes.`,
      findings: [{ title: 'No CPU samples: every thread was idle', severity: 'info', location: null,
        evidence: [`py-spy recorded 0 samples of running threads in ${(result.elapsedMs / 1000).toFixed(1)} s at ${result.rate} Hz.`],
        next_steps: ['Slow but idle means waiting: diagnose it as a hang (`--kind hang`) to see what the threads wait on.'], view: 'profile' }],
    };
  }
  const pct = (n: number) => `${n.toFixed(1)}%`;
  const own = ownHot(profile);
  // Ranked by the time charged to the deepest own frame: a function whose cost is in the library it calls comes first.
  const charged = ownCodeTime(profile, { workspaceRoots: options.workspaceRoots }, sourceLineReader(target.pid)).slice(0, 3);
  const findings: Finding[] = charged.map((c, i) => {
    const callee = c.topCallee && c.samples - c.self > c.self ? c.topCallee : undefined;
    const calleeName = callee ? `${callee.module ? `${callee.module} ` : ''}(${callee.function})` : '';
    return {
      title: callee ? `${c.function} uses ${pct(c.percent)} of CPU samples, mostly in ${calleeName} that it calls`
        : `${c.function} uses ${pct(c.percent)} of CPU samples in its own code`,
      severity: i === 0 && c.percent >= 20 ? 'high' : 'medium',
      location: { function: c.function, file: c.file ?? null, line: c.line ?? null },
      evidence: [
        `${c.samples} of ${profile.samples} samples in ${(result.elapsedMs / 1000).toFixed(1)} s ended in ${c.function} as the deepest own-code frame: `
          + `${c.self} in its own lines, ${c.samples - c.self} in code it calls that is not yours${c.topCallee ? ` (most: ${c.topCallee.module ? `${c.topCallee.module}.` : ''}${c.topCallee.function}, ${c.topCallee.samples})` : ''}.`,
        ...(c.line ? [`Its busiest line is ${shortWhere(c.file, c.line)}${callee ? ' (the call into that code)' : ''}.`] : []),
      ],
      next_steps: [
        callee ? `Call ${callee.function} less at ${shortWhere(c.file, c.line)} (fewer items, a cheaper algorithm, cache results), or move it off the request path.`
          : `Look at the loop or call at ${shortWhere(c.file, c.line)}: do less work per call, cache, or move it off the request path.`,
        `Measure each call: \`pyflight trace ${target.pid} ${c.module ?? '<module>'} ${c.function}\`.`,
        perfStep,
      ],
      view: 'profile',
    };
  });
  findings.forEach((f, i) => sampleShare.set(f, charged[i].percent / 100));
  const listed = new Set(charged.map((f) => f.function + f.file));
  // With no own CPU time left (every own sample was at a blocking call) the stack totals only repeat that wait.
  const byTotal = charged.length ? [...own].sort((a, b) => b.total - a.total).find((f) => !listed.has(f.function + f.file) && f.totalPercent >= 20) : undefined;
  if (byTotal) {
    const onStack: Finding = {
      title: `${byTotal.function} is on the stack in ${pct(byTotal.totalPercent)} of CPU samples (callees included)`,
      severity: 'info',
      location: { function: byTotal.function, file: byTotal.file ?? null, line: byTotal.line ?? null },
      evidence: [`${byTotal.total} of ${profile.samples} samples; ${byTotal.self} in its own code.`],
      next_steps: [`The time is in what ${byTotal.function} calls: follow the hottest path in the flame graph.`],
      view: 'profile',
    };
    findings.push(onStack);
    sampleShare.set(onStack, byTotal.totalPercent / 100);
  }
  const path = hottestPath(profile).map((n) => n.name);
  if (!charged.length && own.length) {
    const top = own[0];
    findings.push({
      title: `No own code used the CPU: its samples in the profile are all at blocking calls, most in ${top.function} (${shortWhere(top.file, top.line)})`,
      severity: 'info',
      location: { function: top.function, file: top.file ?? null, line: top.line ?? null },
      evidence: [`Every own-code sample ended on a line that sleeps, waits for I/O or a lock, or in a wait of the standard library (select, Condition.wait); py-spy counts such threads as active at times.`],
      next_steps: ['Slow but waiting: see what the threads wait on (`--kind hang`).', perfStep],
      view: 'profile',
    });
  } else if (!charged.length) {
    const top = profile.hot[0];
    findings.push({
      title: `No own-code function uses the CPU itself; the top is ${top.function} (${top.kind}, ${pct(top.selfPercent)})`,
      severity: 'medium',
      location: { function: top.function, file: top.file ?? null, line: top.line ?? null },
      evidence: [`Hottest path: ${path.join(' → ')}.`],
      next_steps: ['Find which own function calls it on the hottest path, and call it less.', perfStep],
      view: 'profile',
    });
  } else if (path.length) {
    findings[0].evidence.push(`Hottest path: ${path.join(' → ')}.`);
  }
  const f0 = findings[0];
  return { findings, sampleShare, summary: `CPU-bound: ${f0.title}, at ${shortWhere(f0.location?.file, f0.location?.line)} (${profile.samples} samples in ${seconds} s).` };
}
