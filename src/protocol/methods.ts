/**
 * The helper protocol's methods in one table: per method its params and result types, what the
 * helper needs before it can run it, whether it streams records, whether the agent may log during
 * it, and its row for docs/helper-protocol.md. `HelperMethods` (the types) is derived from it and
 * `Session.call` reads `needs`. The build writes it out (methodsRender.ts) for the Python helper,
 * which answers, guards and drains the agent's log from the rows, and for the docs' methods table.
 * A new method is a row here and a handler in python/pyflight_helper/__main__.py `HANDLERS`.
 */
import type {
  AttachResult, ConsoleAnswer, EvalResult, ExceptionHookCheck, ExceptionWindowParams, ExceptionWindowResult, ForceGcResult, GcWatchParams, GcWatchResult,
  GetGlobalParams, GetGlobalResult, GilstatParams, GilstatRecord, GilstatState, GilstatSummary, HelloResult, InstancesParams,
  InstancesResult, ListGlobalsResult, MemCensusParams, MemCensusResult, MemContainersResult, MemDiffParams, MemDiffResult, MemHoldersParams, MemHoldersResult,
  MemSummaryParams, MemSummaryResult, ModuleResult, OpenResult, ProbeKind, ReloadParams, ReloadPlan, StackResult, StaleFunction,
  StreamSummary, TorchMemoryParams, TorchMemoryResult, TorchProfileParams, TorchProfileResult, TraceParams, TraceRecord,
  TerminalPortRecord, TtDetail, TtDetailParams, TtRecord, TtRecordParams, WatchParams, WatchRecord,
} from './helper';

/**
 * What the helper must have before it runs a method: `nothing` (hello, and the methods that open or
 * attach), an `open` target (read from outside: no agent in the target), or the `agent` loaded.
 */
export type Needs = 'nothing' | 'open' | 'agent';

export interface MethodSpec {
  needs: Needs;
  /** Params that, when true, make a method that needs `open` need the agent (`stack` with `async`). */
  agentWith?: readonly string[];
  /** Sends `record` events until it ends or is cancelled (cancel turns it off in the target). */
  stream: boolean;
  /** The agent may log during it (wrappers added or removed): the helper drains the agent's log after it. */
  logging: boolean;
  /** A probe: the flight-profiler command whose `off` removes it (what `probeOff` takes). */
  probe?: ProbeKind;
  /** A method needing `open` that is asked first, so a target that cannot serve this one is told before the agent loads. */
  checkFirst?: string;
  /**
   * It runs code in the target or changes it: the helper writes each such request to PyFlight's log
   * with the time, the local user and the request (the audit trail). `code`: code runs, so an agent
   * loaded with code execution off refuses it; `change`: allowed there. `when`: only with one of
   * these params set (a user's expression or filter).
   */
  audit?: { kind: 'code' | 'change'; when?: readonly string[] };
  /** Its row in docs/helper-protocol.md: the params, then the end data (and progress, errors). */
  doc: { params: string; end: string };
}

/** Whether a request of this method is audited (and, `code`, refused with code execution off). */
export function audited(spec: MethodSpec, params: object): MethodSpec['audit'] {
  const set = params as Record<string, unknown>;
  return spec.audit && (!spec.audit.when || spec.audit.when.some((name) => set[name])) ? spec.audit : undefined;
}

/** A row, with its types carried along for `HelperMethods` (nothing of them exists at run time). */
interface Row<P, R, Rec> extends MethodSpec {
  readonly types?: { params: P; result: R; record: Rec };
}

function row<P, R, Rec = never>(spec: MethodSpec): Row<P, R, Rec> {
  return spec;
}

type None = Record<string, never>;
const PLAIN = { stream: false, logging: false } as const;

export const HELPER_METHODS = {
  hello: row<None, HelloResult>({ needs: 'nothing', ...PLAIN,
    doc: { params: '–', end: 'interpreter facts and whether `flight_profiler` is importable (`HelloResult`)' } }),
  open: row<{ pid: number }, OpenResult>({ needs: 'nothing', ...PLAIN,
    doc: { params: '`pid`', end: '`{pid, agent}`: a read-only session; loads nothing (`agent` = `{kind, door, port}` of an agent already there, or null)' } }),
  attach: row<{ pid: number; timeoutSeconds?: number; allowCode?: boolean }, AttachResult>({ needs: 'nothing', stream: false, logging: true,
    doc: { params: '`pid`, `timeoutSeconds`, `allowCode` (default true: false makes the agent refuse code itself)', end: 'loads the agent (or finds it): `{pid, kind, door, port, reused, stagesMs}` (`kind` door: PyFlight\'s Unix socket; tcp: an agent flight-profiler\'s client loaded); progress stages `scanning`, `injecting`, `connecting`' } }),
  stack: row<{ native?: boolean; async?: boolean; includeAgentThreads?: boolean }, StackResult>({ needs: 'open', agentWith: ['async'], ...PLAIN,
    doc: { params: '`native`, `async`, `includeAgentThreads`', end: '`StackResult`: threads (name, tid, GIL, frames most recent first, qualified function names), optional native frames and asyncio tasks (`running` for the one executing now)' } }),
  module: row<{ file: string }, ModuleResult>({ needs: 'agent', ...PLAIN,
    doc: { params: '`file` (absolute)', end: '`{file, module}`' } }),
  watch: row<WatchParams, StreamSummary, WatchRecord>({ audit: { kind: 'code', when: ['expr', 'filter'] }, needs: 'agent', stream: true, logging: true, probe: 'watch',
    doc: { params: '`module`, `class?`, `method`, `nested?`, `expr?`, `filter?`, `exceptionOnly?`, `expand?`, `limit?`, `raw?`, `verbose?`', end: 'stream: `progress` `installed` (detail = agent args), one `record` per matching call, `end` = stream summary (below)' } }),
  trace: row<TraceParams, StreamSummary, TraceRecord>({ audit: { kind: 'code', when: ['filter'] }, needs: 'agent', stream: true, logging: true, probe: 'trace',
    doc: { params: 'location, `intervalMs?`, `entranceTimeMs?`, `depth?`, `limit?`, `filter?`', end: 'stream of call trees (`TraceRecord`)' } }),
  ttRecord: row<TtRecordParams, StreamSummary, TtRecord>({ audit: { kind: 'code', when: ['filter'] }, needs: 'agent', stream: true, logging: true, probe: 'tt',
    doc: { params: 'location, `limit?`, `filter?`', end: 'stream of `TtRecord` (index, time, cost, returned/raised)' } }),
  ttList: row<None, { records: TtRecord[] }>({ needs: 'agent', ...PLAIN,
    doc: { params: '–', end: '`{records}` (`replayOf` set on replays)' } }),
  ttDetail: row<TtDetailParams, TtDetail>({ needs: 'agent', ...PLAIN,
    doc: { params: '`index`, `verbose?`', end: 'the full record: args, kwargs, return value as Python reprs (cut at 2,000 characters, 200,000 with `verbose`; `null` when not applicable), `exception` (traceback from the user\'s code), `exceptionType`, `exceptionLine` (the whole message on one line), `replayOf`' } }),
  ttReplay: row<TtDetailParams, TtDetail>({ audit: { kind: 'code' }, needs: 'agent', stream: false, logging: true,
    doc: { params: '`index`, `verbose?`', end: 'the replay\'s record, plus `hint` when it raised (e.g. a framework view outside its request context)' } }),
  ttDelete: row<{ index?: number; all?: boolean }, { message: string }>({ needs: 'agent', stream: false, logging: true,
    doc: { params: '`index` or `all`', end: '`{message}`' } }),
  getglobal: row<GetGlobalParams, GetGlobalResult>({ audit: { kind: 'code', when: ['expr'] }, needs: 'agent', ...PLAIN,
    doc: { params: '`module`, `class?`, `field`, `expr?`, `expand?` (1–6, default 2), `raw?`, `verbose?`, `imported?` (skip the sys.modules check)', end: '`{module, class, field, expr, type, value, expand, raw}`; never imports a module (`MODULE_NOT_FOUND`); `CLASS_NOT_FOUND`, `NAME_NOT_FOUND`, `BAD_EXPRESSION`' } }),
  listGlobals: row<{ module: string }, ListGlobalsResult>({ needs: 'agent', ...PLAIN,
    doc: { params: '`module`', end: '`{module, globals: [{name, type, kind (value/class/function/module), preview}]}` (dunders left out; previews of built-in scalars and container sizes only)' } }),
  getInstances: row<InstancesParams, InstancesResult>({ audit: { kind: 'code', when: ['expr'] }, needs: 'agent', ...PLAIN,
    doc: { params: '`module`, `class`, `limit?` (1–1000, default 10), `expand?` (1–6, default 1), `expr?` (on `instances`), `raw?`, `verbose?`', end: '`{module, class, count (all), limit, expand, raw, instances: [{id, type, value}]}` + `expr, type, value` with `expr`; `NO_INSTANCES` when there is none' } }),
  forceGc: row<None, ForceGcResult>({ audit: { kind: 'code' }, needs: 'agent', ...PLAIN,
    doc: { params: '–', end: '`{unreachable, objectsBefore, objectsAfter, rssKibBefore, rssKibAfter}` (gc.collect() in the target: callers confirm first)' } }),
  probeOff: row<{ target: ProbeKind; args: string }, None>({ needs: 'agent', stream: false, logging: true,
    doc: { params: '`target` (watch/trace/tt), `args`', end: 'turns off a probe a crashed helper left behind' } }),
  memSummary: row<MemSummaryParams, MemSummaryResult>({ needs: 'agent', ...PLAIN,
    doc: { params: '`limit?` (1–100000, default 20), `order?` (`descending`/`ascending`), `maxSeconds?` (1–3600, default 120), `engine?` (`census` default; `pympler`: flight-profiler\'s `mem`, one walk that holds the GIL)', end: 'progress `census` (engine census); `{kind:\'summary\', engine, capturedAt, limit, order, rows: [{type, count, size, sizeText, sizeApprox}], args}`' } }),
  memDiff: row<MemDiffParams, MemDiffResult>({ needs: 'agent', ...PLAIN,
    doc: { params: '`interval?` (1–3600 s, default 10), `limit?` (default 30), `order?` (`growth` default, `size`, `descending`, `ascending`), `middle?` (a census halfway too, unless the first took over half the interval), and `memCensus`\'s', end: 'two censuses `interval` s apart (three with `middle`: rows get `firstHalf`, caches `firstHalfGrown`; `halves`, `middleSkipped`), compared in the helper: progress `census` (detail = `first\|middle\|second <percent> <objects>`) and `waiting` (detail = seconds) between them; `{kind:\'diff\', engine:\'census\', rows (deltas of changed types, ranked by what the user owns: `growth`, `owned`, `ownsEach`, `explainedBy`), containers, caches, census, totals}`; cancel stops the census in the target; `CENSUS_STOPPED` names the stage and percent' } }),
  memCensus: row<MemCensusParams, MemCensusResult>({ needs: 'agent', ...PLAIN,
    doc: { params: '`maxSeconds?` (1–3600, default 120), `sample?` (1–1000, default 1), `sliceMs?` (default 8), `yieldMs?` (default 1), `owners?` (default true)', end: 'progress `census` (detail = `census <percent> <objects>`); `MemCensusResult`: rows `{type, count, size}` of the whole heap (untracked objects counted through their containers), owners (what each instance of a Python class owns alone; over 20,000 instances, 1 in 2**k walked by address and scaled: `ownerTiers`), named containers, lru caches, and the walk\'s figures (`listMs` the one pause, `longestSliceMs`, `listBytes`); cancel stops it in the target' } }),
  memHolders: row<MemHoldersParams, MemHoldersResult>({ needs: 'agent', ...PLAIN,
    doc: { params: '`module`, `class` (as pympler names the type; `builtins` for dict, list, …), `samples?` (1–50, default 5), `maxSeconds?` (0.5–60, default 5), `maxNodes?` (10–100000, default 400), `before?` + `beforeFloor?` (a `memContainers` answer: its containers and floor), `via?` + `instances?` (a census\'s named container that keeps the class: checked without a heap pass, `via: true` in the answer), `sliced?` (each heap pass in slices of one gc.get_objects listing instead of one gc.get_referrers)', end: '`{module, class, builtin, instances, sampled, holders: [{root, steps, samples, grown, definition}], unresolved, heldInvisibly, heldByFrames, createdAt, stoppedBy, expanded, heapPasses, sliced, longestPauseMs, elapsedMs}`: referrer chains up to a module global or class attribute, searched in the target within the bounds (keeps nothing); `MODULE_NOT_FOUND`, `CLASS_NOT_FOUND`' } }),
  memContainers: row<{ limit?: number }, MemContainersResult>({ needs: 'agent', ...PLAIN,
    doc: { params: '`limit?` (1–5000, default 300)', end: '`{containers: {id: length}, floor}` of the biggest dicts, lists, sets and deques (64+ entries), for a later `memHolders` on a built-in type (`floor`: the shortest kept when the list was cut, else 0)' } }),
  gilstatOn: row<GilstatParams, GilstatSummary, GilstatRecord>({ audit: { kind: 'change' }, needs: 'open', stream: true, logging: false,
    doc: { params: '`takeMs?`, `holdMs?` (alert thresholds, default 10), `intervalSeconds?` (default 5), `maxThreads?` (default 500)', end: 'stream: progress `symbols` (where take_gil/drop_gil are), `on`; one `record` per report (`GilstatRecord`); `end` = `{measure, count, reason, args}`. Intercepts take_gil/drop_gil through the agent where the interpreter has their symbols (send `attach` first), else samples with py-spy from outside (progress `sampled`, no agent); cancel turns it off' } }),
  gilstatOff: row<None, None>({ needs: 'agent', ...PLAIN,
    doc: { params: '–', end: '`{}`: turns off an interceptor a crashed helper left on' } }),
  gilstatState: row<None, GilstatState>({ needs: 'open', ...PLAIN,
    doc: { params: '–', end: '`{symbols, searched, intercepted}`: where take_gil/drop_gil are and whether they are intercepted now, read from outside (`/proc/<pid>/mem`, no agent)' } }),
  gcWatch: row<GcWatchParams, GcWatchResult>({ needs: 'open', ...PLAIN,
    doc: { params: '`seconds` (1–120), `enoughAfter?`', end: '`GcWatchResult`: the cyclic collector read from outside every 5 ms (no agent, never paused): collections and pauses per generation, `longLived` (the oldest generation\'s size); after `enoughAfter` s it ends once a full collection was seen or the oldest generation is under 500,000 objects; progress `waitingForFull` (detail `<longLived> <seconds left>`); `{supported: false, reason}` where the helper is not the target\'s binary or not CPython 3.10–3.13; cancel ends it with what it saw' } }),
  torchCheck: row<None, { library: string }>({ needs: 'open', ...PLAIN,
    doc: { params: '–', end: '`{library}`: the target\'s mapped libtorch, from `/proc/<pid>/maps`; `TORCH_MISSING` when it never imported torch' } }),
  torchProfile: row<TorchProfileParams, TorchProfileResult>({ needs: 'agent', checkFirst: 'torchCheck', stream: false, logging: true,
    doc: { params: '`module`, `class?`, `method`, `nested?`, `outputDir` (existing, absolute)', end: 'progress `checking`, then `waiting` (detail = agent args) once the wrapper is in place, `finishing` when another call ended the agent\'s stream first and the file is waited for, `retrying` (detail: why) when that file never came and the profile is taken once more; `{file (in outputDir), bytes, args, elapsedMs, cudaAvailable, torchVersion, enabledWithoutCuda}`; cancel sends `off` (→ `CANCELLED`); `TARGET_EXITED` if the target dies while waiting' } }),
  torchMemory: row<TorchMemoryParams, TorchMemoryResult>({ needs: 'agent', checkFirst: 'torchCheck', stream: false, logging: true,
    doc: { params: '`record?` + location, `outputDir`, `limit?`', end: 'snapshot now (no `record`) or around the next call; `{file, bytes, args, elapsedMs, summary: {segments, reservedBytes, allocatedBytes, allocations, top}}`; `TORCH_NO_CUDA` without CUDA' } }),
  consoleOpen: row<{ id: string }, { id: string; banner: string }>({ audit: { kind: 'code' }, needs: 'agent', ...PLAIN,
    doc: { params: '`id` (the caller\'s, e.g. a UUID)', end: '`{id, banner}`' } }),
  consoleInput: row<{ id: string; line: string }, ConsoleAnswer>({ audit: { kind: 'code' }, needs: 'agent', ...PLAIN,
    doc: { params: '`id`, `line`', end: '`{more, output, closed}` (`more`: a block continues; `closed`: the line was `exit()`); cancelling raises KeyboardInterrupt in the line\'s thread and ends normally with its output' } }),
  consoleReset: row<{ id: string }, None>({ needs: 'agent', ...PLAIN,
    doc: { params: '`id`', end: '`{}` (drops the block typed so far)' } }),
  consoleClose: row<{ id: string }, None>({ needs: 'agent', ...PLAIN,
    doc: { params: '`id`', end: '`{}`' } }),
  eval: row<{ expression: string }, EvalResult>({ audit: { kind: 'code' }, needs: 'agent', ...PLAIN,
    doc: { params: '`expression` (no timeout: cancel interrupts it in the target)', end: '`{ok, value (repr, ≤ 20,000 chars; null for statements), type, output (what it printed), kind: syntax\\|exception, error (SyntaxError or traceback), exceptionType}`' } }),
  reloadPlan: row<ReloadParams, ReloadPlan>({ audit: { kind: 'code' }, needs: 'agent', ...PLAIN,
    doc: { params: '`module`, `class?`, `function`, `text?` (the whole new file text; default: the module\'s file on disk), `oldTexts?` (earlier texts: candidates for the running source)', end: '`{ok, error?, file, newSource, oldSource (null when no known text compiles to the running code), changed, warnings}`; nothing changes' } }),
  reloadApply: row<ReloadParams, ReloadPlan>({ audit: { kind: 'code' }, needs: 'agent', ...PLAIN,
    doc: { params: 'as `reloadPlan`', end: 'the plan with `applied`; `RELOAD_REFUSED` when `ok` would be false, and nothing changed' } }),
  reloadStale: row<{ module: string; text?: string }, { functions: StaleFunction[] }>({ audit: { kind: 'code' }, needs: 'agent', ...PLAIN,
    doc: { params: '`module`, `text?` (default: the file on disk)', end: '`{functions: [{class, function, line}]}`: module functions and methods whose text compiles to other code than runs' } }),
  exceptionWindow: row<ExceptionWindowParams, ExceptionWindowResult>({ audit: { kind: 'change' }, needs: 'agent', ...PLAIN,
    doc: { params: '`seconds?` (0.5–30, default 3), `maxEvents?` (1–100000, default 5000)', end: 'progress `waiting` (detail = seconds) once the trace hook is on every thread; `ExceptionWindowResult`: exceptions by raising function and type, with samples, threads and the except clause that stopped each (`caught`, `broad`, `silent`); the hook is always removed (`stillTraced` proves it); cancel ends the window early' } }),
  exceptionHookCheck: row<None, ExceptionHookCheck>({ needs: 'agent', ...PLAIN,
    doc: { params: '–', end: '`{stillTraced, registered}`: threads with a trace function now, and whether the window\'s module is in `sys.modules`' } }),
  terminalPort: row<None, { closed: boolean; reason: string }, TerminalPortRecord>({ audit: { kind: 'change' }, needs: 'agent', stream: true, logging: true,
    doc: { params: '–', end: 'stream: one `record` `{port, ownNetwork}` once the agent listens on 127.0.0.1:`port` for flight-profiler\'s CLI (Open PyFlight Terminal; `ownNetwork`: the process has its own network namespace, so the CLI must run in it); the port closes when this request ends: cancel, the helper\'s exit, the process\'s' } }),
  cancel: row<{ target: number }, { cancelled: boolean }>({ needs: 'nothing', ...PLAIN,
    doc: { params: '`target` (a request id)', end: '`{cancelled}`; the target request ends with `CANCELLED` (a stream: normally, `reason: "stopped"`)' } }),
  shutdown: row<None, None>({ needs: 'nothing', ...PLAIN,
    doc: { params: '–', end: '`{}`; cancels streams, lets one-shot requests finish their answer, exits' } }),
};

export type HelperMethodName = keyof typeof HELPER_METHODS;

type TypesOf<M extends HelperMethodName> = NonNullable<(typeof HELPER_METHODS)[M]['types']>;

/** Every method: its params and the data of its `end` event. */
export type HelperMethods = { [M in HelperMethodName]: { params: TypesOf<M>['params']; result: TypesOf<M>['result'] } };

/** The methods that stream records, with the record type. */
type StreamMethod = { [M in HelperMethodName]: [TypesOf<M>['record']] extends [never] ? never : M }[HelperMethodName];

/** The helper methods that start a probe (watch, trace, tt recording). */
export type ProbeMethod = Exclude<StreamMethod, 'gilstatOn' | 'terminalPort'>;
export type ProbeParams<M extends ProbeMethod = ProbeMethod> = HelperMethods[M]['params'];
export type ProbeRecord<M extends StreamMethod = ProbeMethod> = TypesOf<M>['record'];

/** The flight-profiler command behind each probe method: what `probeOff` turns off. */
export const PROBE_AGENT_TARGET = Object.fromEntries(Object.entries(HELPER_METHODS)
  .flatMap(([method, spec]: [string, MethodSpec]) => (spec.probe ? [[method, spec.probe]] : []))) as { readonly [M in ProbeMethod]: ProbeKind };

/**
 * The methods a session sends with `call`: one request each, answered once. Not the lifecycle
 * (hello, open, attach, cancel, shutdown: the session sends those), not streams (`startProbe`,
 * `startGilstat`), not `getglobal` (Session.getglobal keeps what it learnt of the target's modules).
 */
export type CallMethod = Exclude<{ [M in HelperMethodName]: (typeof HELPER_METHODS)[M]['needs'] extends 'nothing' ? never : M }[HelperMethodName],
  StreamMethod | 'getglobal'>;

export interface CallOptions {
  /** Aborting cancels the request in the helper (and rejects with CANCELLED). */
  signal?: AbortSignal;
  onProgress?: (stage: string, detail?: string | null) => void;
  /**
   * Progress `waiting`: the method is in place and waits — memDiff after its first snapshot and
   * exceptionWindow once its hook is in (both: the seconds), torchProfile and torchMemory for the call.
   */
  /** `next`: what comes after the wait, when the method says (memDiff: `middle` or `second`). */
  onWaiting?: (seconds: number, next?: string) => void;
}

/** What sends a session's requests (a `Session` is one): the engines take this, not the Session. */
export interface HelperCaller {
  call<M extends CallMethod>(method: M, params: HelperMethods[M]['params'], options?: CallOptions): Promise<HelperMethods[M]['result']>;
}
