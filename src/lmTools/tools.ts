/**
 * The language-model tools (agent mode, and the chat participant's refinement): one typed table,
 * vscode-free, so the CLI-style text they answer is unit-testable and package.json's
 * `languageModelTools` is checked against it. Every tool only reads the target or instruments it
 * for a bounded time (duration and count caps, always stopped); tools that change the target
 * (forceGc, reload, replay, console) are not here. `loadsAgent` tools ask first (prepareInvocation).
 */
import { formatStacks } from '../format/stackFormat';
import { endText, traceLines, watchLine } from '../format/probeText';
import { diffRows, memTable } from '../memory/memModel';
import { preflight } from '../preflight/preflight';
import { listProcesses } from '../processes/processLister';
import { recordCpuProfile } from '../profile/record';
import { perfText } from '../profile/profileText';
import type { TraceParams, WatchParams } from '../protocol/helper';
import type { Session } from '../session/session';
import { diagnose } from '../diagnose/engine';
import { DIAGNOSE_KINDS, type DiagnoseKind } from '../diagnose/playbooks';
import { reportMarkdown } from '../diagnose/report';

export interface ToolDeps {
  /** The session for a pid: attached read-only if it was not (loads nothing). */
  session(pid: number, signal: AbortSignal): Promise<Session>;
  workspaceRoots?: string[];
}

type Schema = Record<string, unknown>;

export interface ToolDef<I = Record<string, unknown>> {
  /** As in package.json `languageModelTools[].name`. */
  name: string;
  /** What the confirmation says it will do (tools that load the agent). */
  confirm?: (input: I) => string;
  loadsAgent: boolean;
  inputSchema: Schema;
  run(deps: ToolDeps, input: I, signal: AbortSignal): Promise<string>;
}

const pidSchema = { type: 'number', description: 'Process id of the running Python process.' };
const locationSchema = {
  module: { type: 'string', description: 'Module as imported in the target (`__main__` for the script).' },
  class: { type: 'string', description: 'Class, for a method.' },
  method: { type: 'string', description: 'Function or method name.' },
};
export const MAX_PROBE_SECONDS = 30;
export const MAX_PROBE_RECORDS = 20;

function clamp(value: unknown, min: number, max: number, fallback: number): number {
  const n = typeof value === 'number' && Number.isFinite(value) ? value : fallback;
  return Math.min(max, Math.max(min, n));
}

function requirePid(input: { pid?: unknown }): number {
  if (typeof input.pid !== 'number' || !Number.isInteger(input.pid) || input.pid <= 0) throw new Error('pid must be a positive integer.');
  return input.pid;
}

/** A bounded watch or trace: stops after `limit` records or `seconds`, whichever first; always stopped. */
async function boundedProbe(session: Session, method: 'watch' | 'trace', params: WatchParams | TraceParams, seconds: number,
  signal: AbortSignal): Promise<string> {
  const probe = session.startProbe(method, params as never);
  const lines: string[] = [];
  const sub = probe.onDidRecord((r) => { lines.push(...(method === 'watch' ? [watchLine(r as never)] : traceLines(r as never))); });
  const timer = setTimeout(() => probe.stop(), seconds * 1000);
  const onAbort = () => probe.stop();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const summary = await probe.done;
    lines.push(`(${endText(summary, method === 'watch' ? 'calls' : 'traces')}; stopped after at most ${seconds} s)`);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    sub.dispose();
    if (probe.isActive) probe.stop();
  }
  return lines.join('\n');
}

const where = (i: { module?: string; class?: string; method?: string }) => [i.module, i.class, i.method].filter(Boolean).join(' ');

export const TOOLS: ToolDef<any>[] = [
  {
    name: 'pyflight_processes', loadsAgent: false,
    inputSchema: { type: 'object', properties: {} },
    async run() {
      const all = (await listProcesses()).filter((p) => p.isPython);
      return all.length ? all.map((p) => `${p.pid}\t${p.user}\tCPU ${p.cpuPercent?.toFixed(0) ?? '?'}%\t${p.commandLine}`).join('\n') : 'No Python process is running.';
    },
  },
  {
    name: 'pyflight_check', loadsAgent: false,
    inputSchema: { type: 'object', properties: { pid: pidSchema }, required: ['pid'] },
    async run(_deps, input: { pid: number }) {
      const { facts, interpreter } = await preflight(requirePid(input));
      return `Process ${facts.pid} can be attached: ${facts.exe ?? '?'}; interpreter ${interpreter.python} (from ${interpreter.source}).`;
    },
  },
  {
    name: 'pyflight_stacks', loadsAgent: false,
    inputSchema: { type: 'object', properties: { pid: pidSchema }, required: ['pid'] },
    async run(deps, input: { pid: number }, signal) {
      const session = await deps.session(requirePid(input), signal);
      return formatStacks(await session.call('stack', {}, { signal })).trimEnd();
    },
  },
  {
    name: 'pyflight_cpu_profile', loadsAgent: false,
    inputSchema: { type: 'object', properties: { pid: pidSchema, seconds: { type: 'number', description: 'Seconds to sample, 1–30 (default 5).' } }, required: ['pid'] },
    async run(deps, input: { pid: number; seconds?: number }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const result = await recordCpuProfile(session, { durationSeconds: clamp(input.seconds, 1, 30, 5), workspaceRoots: deps.workspaceRoots }, signal);
      return perfText(result, 15);
    },
  },
  {
    name: 'pyflight_watch', loadsAgent: true,
    confirm: (i: WatchParams & { pid: number; seconds?: number }) => `Watch calls of ${where(i)} in process ${i.pid} for at most ${clamp(i.seconds, 1, MAX_PROBE_SECONDS, 10)} s (loads the PyFlightProfiler agent if needed; the probe is removed afterwards).`,
    inputSchema: { type: 'object', properties: { pid: pidSchema, ...locationSchema,
      exceptionOnly: { type: 'boolean', description: 'Only calls that raised (watch -e).' },
      limit: { type: 'number', description: `Calls to record, 1–${MAX_PROBE_RECORDS} (default 5).` },
      seconds: { type: 'number', description: `Stop after this many seconds, 1–${MAX_PROBE_SECONDS} (default 10).` } }, required: ['pid', 'module', 'method'] },
    async run(deps, input: WatchParams & { pid: number; seconds?: number }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const params: WatchParams = { module: input.module, method: input.method, ...(input.class ? { class: input.class } : {}),
        exceptionOnly: Boolean(input.exceptionOnly), limit: clamp(input.limit, 1, MAX_PROBE_RECORDS, 5) };
      return boundedProbe(session, 'watch', params, clamp(input.seconds, 1, MAX_PROBE_SECONDS, 10), signal);
    },
  },
  {
    name: 'pyflight_trace', loadsAgent: true,
    confirm: (i: TraceParams & { pid: number; seconds?: number }) => `Trace calls of ${where(i)} in process ${i.pid} for at most ${clamp(i.seconds, 1, MAX_PROBE_SECONDS, 10)} s (loads the PyFlightProfiler agent if needed; removed afterwards).`,
    inputSchema: { type: 'object', properties: { pid: pidSchema, ...locationSchema,
      limit: { type: 'number', description: `Calls to trace, 1–${MAX_PROBE_RECORDS} (default 3).` },
      seconds: { type: 'number', description: `Stop after this many seconds, 1–${MAX_PROBE_SECONDS} (default 10).` } }, required: ['pid', 'module', 'method'] },
    async run(deps, input: TraceParams & { pid: number; seconds?: number }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const params: TraceParams = { module: input.module, method: input.method, ...(input.class ? { class: input.class } : {}),
        limit: clamp(input.limit, 1, MAX_PROBE_RECORDS, 3) };
      return boundedProbe(session, 'trace', params, clamp(input.seconds, 1, MAX_PROBE_SECONDS, 10), signal);
    },
  },
  {
    name: 'pyflight_mem_diff', loadsAgent: true,
    confirm: (i: { pid: number; seconds?: number }) => `Compare the heap of process ${i.pid} ${clamp(i.seconds, 1, 60, 10)} s apart (two heap walks through the PyFlightProfiler agent, loaded if needed).`,
    inputSchema: { type: 'object', properties: { pid: pidSchema, seconds: { type: 'number', description: 'Interval, 1–60 s (default 10).' } }, required: ['pid'] },
    async run(deps, input: { pid: number; seconds?: number }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const result = await session.call('memDiff', { interval: Math.round(clamp(input.seconds, 1, 60, 10)), limit: 20 }, { signal });
      return [`What grew in ${result.intervalSeconds} s (pympler):`, ...memTable(diffRows(result), true)].join('\n');
    },
  },
  {
    name: 'pyflight_getglobal', loadsAgent: true,
    confirm: (i: { pid: number; module: string; class?: string; field: string }) => `Read ${[i.module, i.class, i.field].filter(Boolean).join('.')} in process ${i.pid} (through the PyFlightProfiler agent, loaded if needed; nothing is changed).`,
    inputSchema: { type: 'object', properties: { pid: pidSchema, module: locationSchema.module, class: locationSchema.class,
      field: { type: 'string', description: 'Module global or class attribute.' } }, required: ['pid', 'module', 'field'] },
    async run(deps, input: { pid: number; module: string; class?: string; field: string }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const r = await session.getglobal({ module: input.module, field: input.field, ...(input.class ? { class: input.class } : {}), expand: 2 }, signal);
      return `${r.type}: ${r.value}`;
    },
  },
  {
    name: 'pyflight_diagnose', loadsAgent: true,
    confirm: (i: { pid: number; problem?: string; kind?: string }) => `Diagnose process ${i.pid} (${i.kind ?? 'auto'}): stack samples, and as needed a CPU profile, a memory diff, gilstat or a few seconds of exception counting (the agent is loaded if needed; every probe is removed).`,
    inputSchema: { type: 'object', properties: { pid: pidSchema, problem: { type: 'string', description: 'The problem in a sentence.' },
      kind: { type: 'string', enum: [...DIAGNOSE_KINDS], description: 'Which playbook; auto routes by the words and quick evidence.' } }, required: ['pid'] },
    async run(deps, input: { pid: number; problem?: string; kind?: string }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const kind = (DIAGNOSE_KINDS as readonly string[]).includes(input.kind ?? '') ? input.kind as 'auto' | DiagnoseKind : 'auto';
      const report = await diagnose(session, input.problem ?? '', { kind, signal, workspaceRoots: deps.workspaceRoots, budgetSeconds: 30 });
      return reportMarkdown(report);
    },
  },
];

export function toolNamed(name: string): ToolDef | undefined {
  return TOOLS.find((t) => t.name === name);
}
