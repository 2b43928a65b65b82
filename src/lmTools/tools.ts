/**
 * The language-model tools (agent mode, and the chat participant's refinement): one typed table,
 * vscode-free, so the CLI-style text they answer is unit-testable and package.json's
 * `languageModelTools` is checked against it. Every tool only reads the target or instruments it
 * for a bounded time (duration and count caps, always stopped); tools that change the target
 * (forceGc, reload, replay, console) are not here. The same table is the MCP server's tool list
 * (src/mcp): name, title, description, input schema, bounds and what a call does in the target
 * (`access`), from which VS Code asks first (prepareInvocation) and the MCP server needs its flags.
 */
import { formatStacks } from '../format/stackFormat';
import { endText, plural, traceLines, watchLine } from '../format/probeText';
import { deathText } from '../session/targetDeath';
import { capabilityLines, untestedWarning } from '../preflight/capabilities';
import { censusProgressText, diffReport } from '../memory/census';
import { preflight } from '../preflight/preflight';
import { listProcesses } from '../processes/processLister';
import { recordCpuProfile } from '../profile/record';
import { perfText } from '../profile/profileText';
import type { TraceParams, WatchParams } from '../protocol/helper';
import type { Session } from '../session/session';
import { diagnose } from '../diagnose/engine';
import { DIAGNOSE_KINDS, isDiagnoseKind, playbookFor } from '../diagnose/playbooks';
import { reportMarkdown } from '../diagnose/report';

export interface ToolDeps {
  /** The session for a pid: attached read-only if it was not (loads nothing). */
  session(pid: number, signal: AbortSignal): Promise<Session>;
  workspaceRoots?: string[];
  /** Progress of a long call (profiles, diffs, probes, diagnoses): a line, and how far when known. */
  progress?(message: string, done?: number, total?: number): void;
  /**
   * False when the caller may not load the agent (an MCP server started without --allow-agent): a
   * diagnosis then runs only playbooks that read from outside. Default true.
   */
  agentAllowed?: boolean;
}

type Schema = Record<string, unknown>;

/**
 * What a call does in the target. `outside`: read from outside (ptrace reads, py-spy), nothing is
 * loaded or changed. `agent`: loads PyFlight's agent if it is not there and instruments the process
 * for the call's duration (probes removed after). `code`: runs code in the process through the agent.
 */
export type TargetAccess = 'outside' | 'agent' | 'code';

/** A tool's answer: text for the model, and for some tools the same result as data (MCP structured content; its schema is in src/mcp/outputSchemas.ts). */
export interface ToolAnswer {
  text: string;
  structured?: Record<string, unknown>;
}

/** A numeric input's range and default: the schema's description says it, `run` clamps to it. */
export interface Bound {
  min: number;
  max: number;
  default: number;
}

export interface ToolDef<I = Record<string, unknown>> {
  /** As in package.json `languageModelTools[].name` and the MCP tool list. */
  name: string;
  /** package.json `displayName`, the MCP tool's title. */
  title: string;
  /** What the model reads: package.json `modelDescription`, the MCP tool's description. */
  description: string;
  inputSchema: Schema;
  /** The most a call may do in the target; VS Code asks (confirm) before tools that can do more than read from outside. */
  access: TargetAccess;
  /** What this input needs before it can start (a diagnosis of a hang only reads); default `access`. */
  accessFor?(input: I): TargetAccess;
  /** Its bounds: of its numeric inputs (the schema's descriptions are made from them), or of the whole call. */
  bounds?: { seconds?: Bound; records?: Bound; budgetSeconds?: number };
  /** What the confirmation says it will do (tools that load the agent). */
  confirm?: (input: I) => string;
  run(deps: ToolDeps, input: I, signal: AbortSignal): Promise<ToolAnswer>;
}

const pidSchema = { type: 'number', description: 'Process id of the running Python process.' };
const locationSchema = {
  module: { type: 'string', description: 'Module as imported in the target (`__main__` for the script).' },
  class: { type: 'string', description: 'Class, for a method.' },
  method: { type: 'string', description: 'Function or method name.' },
};
export const MAX_PROBE_SECONDS = 30;
export const MAX_PROBE_RECORDS = 20;
const PROBE_SECONDS: Bound = { min: 1, max: MAX_PROBE_SECONDS, default: 10 };
const PROFILE_SECONDS: Bound = { min: 1, max: 30, default: 5 };
const DIFF_SECONDS: Bound = { min: 1, max: 60, default: 10 };
const WATCH_RECORDS: Bound = { min: 1, max: MAX_PROBE_RECORDS, default: 5 };
const TRACE_RECORDS: Bound = { min: 1, max: MAX_PROBE_RECORDS, default: 3 };
/** What a whole diagnosis may take, roughly (its playbooks share it). */
export const DIAGNOSE_BUDGET_SECONDS = 30;

/** A bounded number input: "Calls to record, 1–20 (default 5)." */
function bounded(what: string, b: Bound, unit = ''): Schema {
  return { type: 'number', description: `${what}, ${b.min}–${b.max}${unit} (default ${b.default}).` };
}

function clamp(value: unknown, b: Bound): number {
  const n = typeof value === 'number' && Number.isFinite(value) ? value : b.default;
  return Math.min(b.max, Math.max(b.min, n));
}

function requirePid(input: { pid?: unknown }): number {
  if (typeof input.pid !== 'number' || !Number.isInteger(input.pid) || input.pid <= 0) throw new Error('pid must be a positive integer.');
  return input.pid;
}

/** A bounded watch or trace: stops after `limit` records or `seconds`, whichever first; always stopped. */
async function boundedProbe(session: Session, method: 'watch' | 'trace', params: WatchParams | TraceParams, seconds: number,
  deps: ToolDeps, signal: AbortSignal): Promise<ToolAnswer> {
  const probe = session.startProbe(method, params as never);
  const lines: string[] = [];
  const limit = params.limit;
  const sub = probe.onDidRecord((r) => {
    lines.push(...(method === 'watch' ? [watchLine(r as never)] : traceLines(r as never)));
    deps.progress?.(`${probe.count} of at most ${limit} ${method === 'watch' ? 'calls' : 'traces'} recorded`, probe.count, limit);
  });
  const timer = setTimeout(() => probe.stop(), seconds * 1000);
  const onAbort = () => probe.stop();
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) probe.stop();
  try {
    const summary = await probe.done;
    if (summary.reason === 'exited') {
      // Said as what it is, not as an end like any other: the process is gone (it may have crashed).
      const died = deathText(session.pid, (await session.checkDeath()) ?? {}, method);
      lines.push(`${died.charAt(0).toUpperCase()}${died.slice(1)} (${plural(summary.count, method === 'watch' ? 'call' : 'trace')} recorded before).`);
    } else {
      lines.push(`(${endText(summary, method === 'watch' ? 'call' : 'trace')}; stopped after at most ${seconds} s)`); // endText makes the plural
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    sub.dispose();
    if (probe.isActive) probe.stop();
  }
  return { text: lines.join('\n') };
}

const where = (i: { module?: string; class?: string; method?: string }) => [i.module, i.class, i.method].filter(Boolean).join(' ');

export const TOOLS: ToolDef<any>[] = [
  {
    name: 'pyflight_processes', title: 'List Python processes', access: 'outside',
    description: 'Lists the running Python processes on this machine (pid, user, CPU %, command line). Use it to find the pid of the service the user talks about.',
    inputSchema: { type: 'object', properties: {} },
    async run() {
      const all = (await listProcesses()).filter((p) => p.isPython);
      return { text: all.length ? all.map((p) => `${p.pid}\t${p.user}\tCPU ${p.cpuPercent?.toFixed(0) ?? '?'}%\t${p.commandLine}`).join('\n') : 'No Python process is running.' };
    },
  },
  {
    name: 'pyflight_check', title: 'Check a process', access: 'outside',
    description: 'Checks that a Python process can be attached by PyFlight (ptrace permission, its interpreter and environment) and what PyFlight does on its CPython (tested here, or refused with why). Read-only.',
    inputSchema: { type: 'object', properties: { pid: pidSchema }, required: ['pid'] },
    async run(deps, input: { pid: number }, signal) {
      const { facts, interpreter } = await preflight(requirePid(input));
      // Its row of the capability table, from the helper's hello (an attach that loads nothing).
      const capabilities = (await deps.session(facts.pid, signal)).hello?.capabilities;
      const warning = untestedWarning(capabilities);
      return { text: [`Process ${facts.pid} can be attached: ${facts.exe ?? '?'}; interpreter ${interpreter.python} (from ${interpreter.source}).`,
        ...(capabilities ? capabilityLines(capabilities) : []), ...(warning ? [warning] : [])].join('\n') };
    },
  },
  {
    name: 'pyflight_stacks', title: 'Thread stacks', access: 'outside',
    description: 'Every thread\'s Python stack of a running process, with thread names, who holds the GIL, and what each blocked thread waits on (the lock as written in the source and who holds it). Read from outside; loads nothing into the process.',
    inputSchema: { type: 'object', properties: { pid: pidSchema }, required: ['pid'] },
    async run(deps, input: { pid: number }, signal) {
      const session = await deps.session(requirePid(input), signal);
      return { text: formatStacks(await session.call('stack', {}, { signal })).trimEnd() };
    },
  },
  {
    name: 'pyflight_cpu_profile', title: 'CPU profile', access: 'outside', bounds: { seconds: PROFILE_SECONDS },
    description: 'Samples a running Python process with py-spy for a few seconds (from outside) and returns the hottest functions by self and total time and the hottest call path.',
    inputSchema: { type: 'object', properties: { pid: pidSchema, seconds: bounded('Seconds to sample', PROFILE_SECONDS) }, required: ['pid'] },
    async run(deps, input: { pid: number; seconds?: number }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const seconds = Math.round(clamp(input.seconds, PROFILE_SECONDS));
      const result = await recordCpuProfile(session, { durationSeconds: seconds, workspaceRoots: deps.workspaceRoots }, signal,
        (p) => deps.progress?.(`${p.chunks} of ${seconds} s sampled, ${p.profile.samples} samples`, p.chunks, seconds));
      return { text: perfText(result, 15) };
    },
  },
  {
    name: 'pyflight_watch', title: 'Watch a function', access: 'agent', bounds: { seconds: PROBE_SECONDS, records: WATCH_RECORDS },
    description: 'Records calls of one function in a running process (arguments, return value or exception, cost) through the PyFlightProfiler agent, bounded by a record count and seconds, then removes the probe. Use exceptionOnly for failing calls.',
    confirm: (i: WatchParams & { pid: number; seconds?: number }) => `Watch calls of ${where(i)} in process ${i.pid} for at most ${clamp(i.seconds, PROBE_SECONDS)} s (loads the PyFlightProfiler agent if needed; the probe is removed afterwards).`,
    inputSchema: { type: 'object', properties: { pid: pidSchema, ...locationSchema,
      exceptionOnly: { type: 'boolean', description: 'Only calls that raised (watch -e).' },
      limit: bounded('Calls to record', WATCH_RECORDS),
      seconds: bounded('Stop after this many seconds', PROBE_SECONDS) }, required: ['pid', 'module', 'method'] },
    async run(deps, input: WatchParams & { pid: number; seconds?: number }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const params: WatchParams = { module: input.module, method: input.method, ...(input.class ? { class: input.class } : {}),
        exceptionOnly: Boolean(input.exceptionOnly), limit: clamp(input.limit, WATCH_RECORDS) };
      return boundedProbe(session, 'watch', params, clamp(input.seconds, PROBE_SECONDS), deps, signal);
    },
  },
  {
    name: 'pyflight_trace', title: 'Trace a function', access: 'agent', bounds: { seconds: PROBE_SECONDS, records: TRACE_RECORDS },
    description: 'Traces calls of one function in a running process: the call tree of each call with the time spent in every child, bounded by a count and seconds, then removed.',
    confirm: (i: TraceParams & { pid: number; seconds?: number }) => `Trace calls of ${where(i)} in process ${i.pid} for at most ${clamp(i.seconds, PROBE_SECONDS)} s (loads the PyFlightProfiler agent if needed; removed afterwards).`,
    inputSchema: { type: 'object', properties: { pid: pidSchema, ...locationSchema,
      limit: bounded('Calls to trace', TRACE_RECORDS),
      seconds: bounded('Stop after this many seconds', PROBE_SECONDS) }, required: ['pid', 'module', 'method'] },
    async run(deps, input: TraceParams & { pid: number; seconds?: number }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const params: TraceParams = { module: input.module, method: input.method, ...(input.class ? { class: input.class } : {}),
        limit: clamp(input.limit, TRACE_RECORDS) };
      return boundedProbe(session, 'trace', params, clamp(input.seconds, PROBE_SECONDS), deps, signal);
    },
  },
  {
    name: 'pyflight_mem_diff', title: 'Memory diff', access: 'agent', bounds: { seconds: DIFF_SECONDS },
    description: 'Compares the heap of a running Python process over an interval (two censuses in the process, in slices that let its threads run, through the PyFlightProfiler agent) and returns what grew, the user\'s classes with what their instances hold first, with the containers and lru caches that grew.',
    confirm: (i: { pid: number; seconds?: number }) => `Compare the heap of process ${i.pid} ${clamp(i.seconds, DIFF_SECONDS)} s apart (two heap censuses through the PyFlightProfiler agent, loaded if needed).`,
    inputSchema: { type: 'object', properties: { pid: pidSchema, seconds: bounded('Interval', DIFF_SECONDS, ' s') }, required: ['pid'] },
    async run(deps, input: { pid: number; seconds?: number }, signal) {
      const session = await deps.session(requirePid(input), signal);
      deps.progress?.('Taking the first census of the heap…');
      let quarter = '';
      const result = await session.call('memDiff', { interval: Math.round(clamp(input.seconds, DIFF_SECONDS)), limit: 20 }, { signal,
        onProgress: (stage, detail) => {
          const text = censusProgressText(stage, detail);
          const step = `${(detail ?? '').split(' ')[0]} ${Math.floor(Number((detail ?? '').split(' ')[1]) / 25)}`;
          if (text && step !== quarter) {
            quarter = step;
            deps.progress?.(`${text[0].toUpperCase()}${text.slice(1)}.`);
          }
        },
        onWaiting: (s) => deps.progress?.(`First census taken; the second in ${s} s.`) });
      return { text: diffReport(session.pid, result).join('\n') };
    },
  },
  {
    name: 'pyflight_getglobal', title: 'Read a global', access: 'agent',
    description: 'Reads a module global or class attribute of a running Python process (through the PyFlightProfiler agent); nothing is changed.',
    confirm: (i: { pid: number; module: string; class?: string; field: string }) => `Read ${[i.module, i.class, i.field].filter(Boolean).join('.')} in process ${i.pid} (through the PyFlightProfiler agent, loaded if needed; nothing is changed).`,
    inputSchema: { type: 'object', properties: { pid: pidSchema, module: locationSchema.module, class: locationSchema.class,
      field: { type: 'string', description: 'Module global or class attribute.' } }, required: ['pid', 'module', 'field'] },
    async run(deps, input: { pid: number; module: string; class?: string; field: string }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const r = await session.getglobal({ module: input.module, field: input.field, ...(input.class ? { class: input.class } : {}), expand: 2 }, signal);
      return { text: `${r.type}: ${r.value}` };
    },
  },
  {
    name: 'pyflight_diagnose', title: 'Diagnose a process', access: 'agent',
    bounds: { budgetSeconds: DIAGNOSE_BUDGET_SECONDS },
    description: 'Runs PyFlight\'s deterministic diagnosis of a running Python process (hang, slow, memory, exception, gil, torch) and returns its report: findings with evidence, culprit first.',
    confirm: (i: { pid: number; problem?: string; kind?: string }) => `Diagnose process ${i.pid} (${i.kind ?? 'auto'}): stack samples, and as needed a CPU profile, a memory diff, gilstat or a few seconds of exception counting (the agent is loaded if needed; every probe is removed).`,
    // A kind asked for whose playbook reads from outside (hang, slow) needs nothing more; auto starts
    // from outside and the engine, once it has routed, refuses a kind that needs the agent (allowAgent).
    accessFor: (i: { kind?: string }) => (i.kind && isDiagnoseKind(i.kind) && playbookFor(i.kind).needsAgent ? 'agent' : 'outside'),
    inputSchema: { type: 'object', properties: { pid: pidSchema, problem: { type: 'string', description: 'The problem in a sentence.' },
      kind: { type: 'string', enum: [...DIAGNOSE_KINDS], description: 'Which playbook; auto routes by the words and quick evidence.' } }, required: ['pid'] },
    async run(deps, input: { pid: number; problem?: string; kind?: string }, signal) {
      const session = await deps.session(requirePid(input), signal);
      const kind = input.kind && isDiagnoseKind(input.kind) ? input.kind : 'auto';
      const report = await diagnose(session, input.problem ?? '', { kind, signal, workspaceRoots: deps.workspaceRoots,
        budgetSeconds: DIAGNOSE_BUDGET_SECONDS, allowAgent: deps.agentAllowed ?? true }, (step) => deps.progress?.(step));
      return { text: reportMarkdown(report), structured: report as unknown as Record<string, unknown> };
    },
  },
];

export function toolNamed(name: string): ToolDef | undefined {
  return TOOLS.find((t) => t.name === name);
}
