/**
 * Extension ↔ helper protocol (JSON lines on stdio), mirrored by python/pyflight_helper: the events,
 * and the params and results of the methods (the methods themselves: methods.ts).
 * Request: {id, method, params}. Events: zero or more `progress`/`record`, then exactly one `end`
 * (with the result) or `error` (with a stable code). See docs/helper-protocol.md.
 */
import type { ErrorInfo } from '../common/errors';
import type { CapabilityReport } from './capabilityTypes';

export type HelperEvent =
  | { id: number | null; event: 'progress'; data: { stage: string; detail?: string | null } }
  | { id: number | null; event: 'record'; data: unknown }
  | { id: number | null; event: 'end'; data: unknown }
  | { id: number | null; event: 'error'; error: ErrorInfo };

export interface HelloResult {
  helperVersion: string;
  helperPid: number;
  python: {
    executable: string;
    realExecutable: string;
    version: string;
    implementation: string;
    prefix: string;
    basePrefix: string;
    isVenv: boolean;
  };
  flightProfiler: { installed: boolean; version?: string; location?: string; error?: string };
  /** This interpreter's row of the capability table (python/pyflight_helper/capabilities.json). */
  capabilities?: CapabilityReport;
  platform: string;
  machine: string;
}

/** A read-only session: nothing is loaded into the target. */
/**
 * Where the agent listens: PyFlight's door (a Unix socket only the target's user or root may use,
 * path as the target sees it) or, for an agent flight-profiler's own client loaded, a TCP port.
 */
export interface AgentAddress {
  kind: 'door' | 'tcp';
  door: string | null;
  port: number | null;
}

/** "door /tmp/pyflight-door-…/agent.sock" or "TCP port 16123 (flight-profiler's own agent)". */
export function agentWhere(agent: AgentAddress): string {
  return agent.kind === 'door' ? `door ${agent.door}` : `TCP port ${agent.port} (flight-profiler's own agent)`;
}

export interface OpenResult {
  pid: number;
  /** The agent already in the target (an earlier attach), or null. */
  agent: AgentAddress | null;
}

/** The agent listens on 127.0.0.1:`port` for flight-profiler's CLI while the `terminalPort` request runs. */
export interface TerminalPortRecord {
  port: number;
  /** The process has a network namespace of its own (a container): its 127.0.0.1 is reached from inside it only. */
  ownNetwork: boolean;
}

export interface AttachResult extends AgentAddress {
  pid: number;
  /** False when the agent refuses code itself (loaded with code execution off, by any client). */
  allowCode?: boolean;
  /** True when an agent from an earlier attach was found and reused (nothing was injected). */
  reused: boolean;
  /** How long each stage took (scan, stage, inject, agent), for the log. */
  stagesMs?: Record<string, number>;
}

export interface StackFrame {
  function: string;
  file: string | null;
  line: number | null;
  kind: 'python' | 'native';
  library?: string;
}

/** What a thread does in this snapshot, read from its frames and its top frame's source line. */
export type ThreadActivity = 'blocked' | 'waiting' | 'sleeping' | 'running';

/** What a waiting thread waits on: `lock` and `semaphore` make it `blocked`, the others `waiting`. */
export type BlockedOnKind = 'lock' | 'semaphore' | 'condition' | 'event' | 'queue' | 'thread' | 'barrier';

export interface BlockedOn {
  /** The object as written in the source: `INVENTORY_LOCK`, `self._lock`, `JOBS`. */
  expression: string;
  /** The user's line that waits (the `with` / `.acquire(` / `.get(` line), not threading.py's. */
  file: string | null;
  line: number | null;
  kind: BlockedOnKind;
  /** The stdlib call it waits in, when there is one (`Condition.wait`, `Queue.get`). */
  via?: string;
  /** Threads inside a `with <same expression>:` block of the same file, or between its acquire() and release() (get() and put()) in one function. */
  heldBy?: string[];
  /** Which object, when the text alone may name several (`self._lock`): "0x7f…._lock" (its address, read with py-spy's locals) or "AccountLedger.lock" (the method's class); absent: the text is the identity. */
  lock?: string;
  /** Whose lock in words: "Account at 0x7f…" or "AccountLedger". */
  owner?: string;
  /** Threads inside a `with <other object>.<same attribute>:` of the same file, when the objects' identity could not be read: maybe the holders. */
  maybeHeldBy?: string[];
  /** For a queue, event or condition nobody holds: threads inside a function that puts into it (sets, notifies) an object of the same last name. */
  fedBy?: string[];
  /** No thread feeds an object of that name: threads running a method of a class that feeds some object (the same queue under another name, maybe). */
  maybeFedBy?: string[];
  /** A pool nobody holds anything of: the program's functions that take from it and give back outside `finally` (pool_leaks.py), explicit exits first. */
  leaks?: PoolLeak[];
  /** The pool those leaks are about: its class (null: the store itself) and the methods that take from and give back to it. */
  pool?: { class: string | null; take: string[]; give: string[] };
}

/** A function that takes from a pool and gives back only on the way it expects: a raise, a return or an exception in between keeps what it took. */
export interface PoolLeak {
  /** Qualified (`Repository.load_order`, `load_order`). */
  function: string;
  file: string;
  /** The take (`pool.acquire()`), and the give back (`pool.release(conn)`) outside `finally`. */
  line: number;
  take: string;
  giveLine: number;
  give: string;
  /** `raise` and `return` statements between the two; an `except` (`handler`) after the take that gives nothing back, and its first call (`self._discard(conn)`). */
  exits: { line: number; text: string; handler?: boolean; calls?: string | null }[];
}

/** A call by which a thread gives waiters what they wait for: `batches.put(…)` (how `put`), `ready.set()`. */
export interface FeedCall {
  expression: string;
  file: string;
  /** The line of the call. */
  line: number;
  how: string;
  /** The thread's frame (function) the call is written in (for a `maybe` feeder: the method of its class that makes the call). */
  function?: string;
  /** Another object's name: the same queue, maybe (BlockedOn.maybeFedBy). */
  maybe?: boolean;
}

/** A `with <expression>:` block a thread is inside, for a lock another thread is blocked on. */
export interface HeldLock {
  expression: string;
  file: string;
  /** The line of the `with` statement, or of the acquire() / get() (`how`). */
  line: number;
  /** Held between `acquire()` and `release()`, or `get()` and `put()`, of one function (a semaphore or a pool has no owner); absent: inside a `with`. */
  how?: 'acquire' | 'get';
  /** As BlockedOn.lock / owner. */
  lock?: string;
  owner?: string;
  /** Only maybe this lock (same attribute of another object whose identity could not be read). */
  maybe?: boolean;
  /** Held through a generator context manager: the `with` is of this call (`gateway.session()`), whose generator holds the lock around its yield. */
  via?: string;
}

export interface ThreadStack {
  tid: number;
  name: string;
  daemon: boolean | null;
  holdsGil: boolean;
  gcCollecting: boolean;
  /** Most recent call first. */
  frames: StackFrame[];
  nativeFrames?: StackFrame[];
  /** Absent for a thread without Python frames (and from helpers before issue 6). */
  activity?: ThreadActivity;
  blockedOn?: BlockedOn;
  /** The sleep or I/O call a `sleeping` / `waiting` thread is in (`sleep`, `EpollSelector.select`). */
  waitingIn?: string;
  holding?: HeldLock[];
  /** Calls in this thread's functions that feed a queue / event / condition other threads wait on (BlockedOn.fedBy). */
  feeding?: FeedCall[];
}

export interface AsyncTask {
  thread: string;
  tid: number;
  name: string;
  state: string | null;
  coroutine: string | null;
  /** The task executing on its loop right now (its frames then come from its thread's stack). */
  running?: boolean;
  frames: StackFrame[];
}

export interface StackResult {
  pid: number;
  capturedAt: number;
  threads: ThreadStack[];
  hiddenAgentThreads: number;
  native: boolean;
  asyncTasks?: AsyncTask[];
}

export interface ModuleResult {
  file: string;
  module: string;
}

/** Options of `watch`, as in the seed's `watch module [class] method [options]`. */
export interface WatchParams {
  module: string;
  class?: string;
  method: string;
  /** -nm: a function defined inside `method` */
  nested?: string;
  /** --expr; default "args,kwargs". Names available: target, return_obj, args, kwargs. */
  expr?: string;
  /** -f; evaluated after the call with return_obj and cost (ms). */
  filter?: string;
  /** -e */
  exceptionOnly?: boolean;
  /** -x, 1–4 or -1 */
  expand?: number;
  /** -n, default 10 */
  limit?: number;
  /** -r */
  raw?: boolean;
  /** -v */
  verbose?: boolean;
}

export interface WatchRecord {
  time: number;
  costMs: number;
  isException: boolean;
  /** The traceback from the user's code on (flight-profiler's own frames and ^^^ markers removed). */
  exception: string | null;
  /** "ValueError" when the call raised. */
  exceptionType?: string | null;
  /** The user's --expr; null when PyFlight's own expression gave `arguments` and `returned`. */
  expr: string | null;
  type: string | null;
  /** Rendered by the agent: display text, never evaluated or injected as HTML. */
  value: string | null;
  /** Without --expr: the call's arguments as Python, named where the signature is known (`line='k,v'`). */
  arguments?: string | null;
  /** Without --expr: repr() of the return value (null when the call raised). */
  returned?: string | null;
  expressionError: string | null;
  /** The exception line of expressionError, e.g. "NameError: name 'x' is not defined". */
  expressionErrorLine?: string | null;
  filterError: string | null;
  filterErrorLine?: string | null;
  method: string;
}

export interface TraceParams {
  module: string;
  class?: string;
  method: string;
  nested?: string;
  /** -i, ms; calls cheaper than this are dropped. Default 0.1. */
  intervalMs?: number;
  /** -et, ms; whole calls cheaper than this are not reported. */
  entranceTimeMs?: number;
  /** -d */
  depth?: number;
  /** -n, default 10 */
  limit?: number;
  /** -f; an exception in it counts as false (PyFlight works around an upstream bug). */
  filter?: string;
}

export interface TraceNode {
  function: string;
  file: string | null;
  line: number | null;
  costMs: number;
  builtin: boolean;
  await: boolean;
  children: TraceNode[];
}

export interface TraceRecord {
  time: number;
  thread: string;
  threadId: number;
  daemon: boolean;
  costMs: number;
  root: TraceNode;
}

export interface TtRecordParams {
  module: string;
  class?: string;
  method: string;
  nested?: string;
  /** -n, default 50 */
  limit?: number;
  filter?: string;
}

export interface TtRecord {
  index: number;
  time: number;
  costMs: number;
  isReturn: boolean;
  isException: boolean;
  module: string;
  class: string | null;
  method: string;
  /**
   * Set when this record is a replay (`tt -i N -p`): the index of the captured call it re-ran.
   * flight-profiler records a replay under a new index like a captured call; the helper tells them
   * apart (a replay shares the original's args and kwargs objects). Only in `ttList` / details.
   */
  replayOf?: number | null;
}

export interface TtDetailParams {
  index: number;
  /** Values up to 200,000 characters instead of 2,000. */
  verbose?: boolean;
}

/** One record in full. Values are Python reprs (`('k,v',)`, `{'a': 1}`), cut after 2,000 characters unless `verbose`. */
export interface TtDetail extends TtRecord {
  args: string;
  kwargs: string;
  /** null when the call raised. */
  returnValue: string | null;
  /** The traceback, user code first (flight-profiler's frames and ^^^ lines removed); null when the call returned. */
  exception: string | null;
  /** `RuntimeError` */
  exceptionType?: string | null;
  /** The exception whole on one line: `RuntimeError: Working outside of request context. This typically means …`. */
  exceptionLine?: string | null;
  /** ttReplay only, when the replay raised for want of a framework's app/request context (or the function is a view). */
  hint?: string;
}

/**
 * Why a probe stream ended. "limit": `limit` records arrived; "calls": the agent's call budget
 * (`callBudget`, bigger than `limit` when a filter, -e or -et is given) ran out first, after `calls`
 * calls of which `matched` were records; "stopped": cancelled (the probe was turned off);
 * "exited": the target process went away; "removed": the agent ended it before its limit, because another
 * client (another window, the CLI, flight_profiler) turned off a probe on the same function.
 */
export type StreamEndReason = 'limit' | 'calls' | 'stopped' | 'exited' | 'removed';

/** The `end` of a probe stream. */
export interface StreamSummary {
  /** Records sent. */
  count: number;
  reason: StreamEndReason;
  /** -n: how many records were asked for. */
  limit: number | null;
  /** Records that matched the filter / -e / -et (= count). */
  matched?: number;
  /** With reason "calls": how many calls the agent let through its wrapper. */
  calls?: number;
  /** The -n the agent was given (calls, not records). */
  callBudget?: number;
  /** trace: calls the helper received, including those below -i / -et. */
  callsSeen?: number;
  /** trace: calls that ran faster than the interval (-i, `intervalMs`), so were not records. */
  belowInterval?: number;
  intervalMs?: number;
  /** The agent's argument string (what `flight_profiler --cmd` would take after the command). */
  args: string;
}

export type ProbeKind = 'watch' | 'trace' | 'tt';

export interface GetGlobalParams {
  module: string;
  class?: string;
  field: string;
  /** -e, evaluated with `target` bound to the value */
  expr?: string;
  expand?: number;
  raw?: boolean;
  /** -v: no cut of long strings and collections */
  verbose?: boolean;
  /** The module name came from `module` (so it is imported): skip the sys.modules check (one round trip less). */
  imported?: boolean;
}

/** A value as the agent rendered it (flight-profiler's indented text; with `raw`, repr()). */
export interface GetGlobalResult {
  module: string;
  class: string | null;
  field: string;
  expr: string;
  type: string;
  value: string;
  expand: number;
  raw: boolean;
}

/** One global of a module (dunder names left out); `preview` only for built-in scalars and sizes of containers. */
export interface GlobalName {
  name: string;
  type: string;
  kind: 'class' | 'module' | 'function' | 'value';
  preview: string;
}

export interface ListGlobalsResult {
  module: string;
  globals: GlobalName[];
}

/** vmtool getInstances: a top-level class of an imported module. */
export interface InstancesParams {
  module: string;
  class: string;
  /** -n: instances rendered one by one, 1–1000, default 10 (all are counted) */
  limit?: number;
  /** -x: depth of each rendering, 1–6, default 1 */
  expand?: number;
  /** -e: evaluated on the list of every instance, as `instances` */
  expr?: string;
  raw?: boolean;
  verbose?: boolean;
}

export interface InstancesResult {
  module: string;
  class: string;
  /** Every live instance of the class itself (not of subclasses). */
  count: number;
  limit: number;
  expand: number;
  raw: boolean;
  /** The first `limit`, each rendered: `id` is id() in the target, `type` module.qualname. */
  instances: { id: number; type: string; value: string }[];
  /** With `expr`: its value over all instances. */
  expr?: string;
  type?: string;
  value?: string;
}

/** vmtool forceGc: gc.collect()'s return, objects tracked by the collector and RSS (KiB) before and after. */
export interface ForceGcResult {
  unreachable: number;
  objectsBefore: number;
  objectsAfter: number;
  rssKibBefore: number | null;
  rssKibAfter: number | null;
}

/** `mem summary`: the biggest types by total size (pympler, a full heap walk in the target). */
export interface MemSummaryParams {
  /** --limit, 1–100000, default 20 */
  limit?: number;
  /** --order, default descending (ascending: the smallest types) */
  order?: 'descending' | 'ascending';
  /** memSummary: the census's time bound, or how long to wait for pympler (1–3600, default 120). */
  maxSeconds?: number;
  /** memSummary: `census` (default: PyFlight's census, in slices) or `pympler` (flight-profiler's `mem`, one walk holding the GIL). */
  engine?: 'census' | 'pympler';
  /** memSummary with the census: count every Nth tracked object (1–1000, default 1). */
  sample?: number;
}

/** `memCensus`: PyFlight's heap census in the target (pyflight_agent/census.py), in slices that give the GIL back. */
export interface MemCensusParams {
  /** Stop the census after this many seconds (1–3600, default 120): `CENSUS_STOPPED` names the stage and percent. */
  maxSeconds?: number;
  /** Count every Nth object the collector tracks (1–1000, default 1: all), each for N. */
  sample?: number;
  /** Milliseconds of work between two yields of the GIL (1–200, default 8). */
  sliceMs?: number;
  /** Milliseconds slept after each slice (0–100, default 1). */
  yieldMs?: number;
  /** What each instance of a class written in Python owns alone (default true). */
  owners?: boolean;
}

/** `mem diff`: two censuses `interval` seconds apart, compared in the helper; cancel stops the census in the target. */
export interface MemDiffParams extends MemCensusParams {
  /** --interval, whole seconds 1–3600, default 10 */
  interval?: number;
  /** Rows kept, 1–100000, default 30. */
  limit?: number;
  /** growth (default: what the user owns first), size (raw type growth), descending (= size), ascending. */
  order?: 'growth' | 'size' | 'descending' | 'ascending';
  /** One more census halfway (skipped when the first took over half the interval): rows get `firstHalf`. */
  middle?: boolean;
}

/** How one census went. `listMs`: the one pause (gc.get_objects); `listBytes`: its list (8 bytes per tracked object). */
export interface CensusStats {
  tracked: number;
  walked: number;
  sample: number;
  /** Classes with more instances than the census walks for what they own: 1 in 2**k walked, by address (the same in each census of a diff). */
  ownerTiers?: Record<string, number>;
  listMs: number;
  longestSliceMs: number;
  /** CPU time of the census thread in gc.get_objects and in the longest slice (less than wall time when the host is busy). */
  listCpuMs?: number;
  longestSliceCpuMs?: number;
  slices: number;
  elapsedMs: number;
  listBytes: number;
  python: string;
}

/** A container a module global or class attribute names (64+ entries); `holds`: the type of its newest values. */
export interface NamedContainer {
  path: string;
  kind: 'global' | 'classAttr';
  type: string;
  len: number;
  id: string;
  holds: string | null;
  /** Its own bytes (sys.getsizeof: its table, not what it holds); null for a subclass. */
  size: number | null;
  /** In a diff: entries gained over the interval (`new`: it was not there, or below 64, at the first census). */
  grown?: number;
  new?: boolean;
}

/** A functools.lru_cache (C wrapper) and its decorated function. */
export interface LruCache {
  function: string;
  currsize: number;
  maxsize: number | null;
  hits: number;
  misses: number;
  id: string;
  file: string | null;
  line: number | null;
  grown?: number;
  /** With a middle census: entries it gained in the first half (null: not seen then). */
  firstHalfGrown?: number | null;
  /**
   * Its newest keys (up to 20) by type name (a tuple key's parts counted one by one); `identity`: the
   * classes written in Python among them that hash and compare by identity (every instance a new entry).
   * Absent for a bounded cache of over 10,000 entries, or where the cache's dict was not found.
   */
  keys?: {
    sampled: number; types: Record<string, number>; identity: string[];
    /** Types that are one object in every sampled key: a cached method's `self`, not what varies per call. */
    same?: string[];
    /** The cache dict's own bytes, how many sampled keys are tuples (and their mean size), and an unbounded cache's results when all of one atomic type: what the diff lets the cache explain. */
    table?: number; tuples?: number; tupleBytes?: number; result?: { type: string; bytes: number } | null;
  };
}

/** Per class written in Python: its instances and what they own alone (refcount 1, 3 levels down). */
export interface CensusOwner {
  type: string;
  instances: number;
  ownedObjects: number;
  ownedSize: number;
  /** type -> [objects, bytes] owned, the biggest 8. */
  ownedTypes: Record<string, [number, number]>;
}

export interface MemCensusResult extends CensusStats {
  kind: 'census';
  capturedAt: number;
  rows: Array<{ type: string; count: number; size: number }>;
  owners: CensusOwner[];
  containers: NamedContainer[];
  caches: LruCache[];
  percent: number;
  stoppedBy: 'time' | 'cancelled' | null;
}

/**
 * One row of the agent's table. In a diff, `count` and `size` are deltas (second snapshot minus
 * first). `size` is bytes read back from pympler's text: exact up to 1 KiB and for negative deltas,
 * otherwise from two decimals of KB/MB/GB (`sizeApprox`). `type` comes from the target: text only.
 */
export interface MemRow {
  /** pympler's name: `str`, `__main__.LeakyCacheEntry`, `function (handler)`. */
  type: string;
  count: number;
  size: number;
  /** As the agent printed it: `1.24 MB`, `224     B`. */
  sizeText: string;
  sizeApprox: boolean;
}

export interface MemSummaryResult {
  kind: 'summary';
  /** `census` (the default since issue 19) or `pympler`. */
  engine?: 'census' | 'pympler';
  /** The census's figures (engine census). */
  census?: CensusStats;
  /** ms since the epoch, when the request was sent. */
  capturedAt: number;
  limit: number;
  order: 'descending' | 'ascending';
  /** In the agent's order (by size). */
  rows: MemRow[];
  /** What follows `mem ` in flight-profiler's CLI. */
  args: string;
}

/** A row of a census diff: count and size are deltas of the type's own objects. */
export interface MemDiffRow extends MemRow {
  /** What the row is ranked by: a class's size growth plus what its instances own alone; a built-in type's growth no owner explains. */
  growth?: number;
  /** Classes written in Python: growth of what their instances own alone (bytes). */
  owned?: number;
  /** Classes written in Python: bytes their instances own alone now. */
  ownedNow?: number;
  /** Classes written in Python: objects each instance owns alone, by type (`{list: 1, float: 64}`). */
  ownsEach?: Record<string, number>;
  /** Built-in types: the owner classes whose growth holds this growth. */
  explainedBy?: Array<{ owner: string; count: number; size: number }>;
  before?: { count: number; size: number };
  /** With `middle`: the deltas between the first and the middle census (a trend shows in both halves). */
  firstHalf?: { count: number; size: number; growth?: number };
}

export interface MemDiffResult {
  kind: 'diff';
  /** `census` (PyFlight's census, since issue 19); absent in diffs made with pympler. */
  engine?: 'census';
  capturedAt: number;
  /** When the second census started. */
  secondAt?: number;
  endedAt: number;
  intervalSeconds: number;
  limit: number;
  order: 'growth' | 'size' | 'descending' | 'ascending';
  /** Deltas, changed types only, in `order`. */
  rows: MemDiffRow[];
  /** Named containers (module globals, class attributes) that grew, most first. */
  containers?: NamedContainer[];
  /** lru caches that grew or hold 1,000+ entries. */
  caches?: LruCache[];
  /** Pending asyncio tasks that grew, by coroutine and where it is suspended (`awaiting`: what it awaits, outermost first); every task the census met. */
  tasks?: Array<{ coroutine: string; file: string; line: number; awaiting: string[]; count: number; grown: number }>;
  /** The two censuses (three with a middle one): time, pause, list. */
  census?: CensusStats[];
  /** Asked with `middle`: whether the middle census was taken (rows carry `firstHalf`). */
  halves?: boolean;
  /**
   * With a middle census: where it fell in the interval (0–1), for rows (by the censuses' midpoints:
   * objects are counted all along one) and caches (by their ends: read last). A steady trend gains
   * about this share of its growth in the first half.
   */
  firstHalfShare?: { rows: number; caches: number };
  /** Why the middle census was not taken (the first census was long beside the interval). */
  middleSkipped?: string;
  /**
   * The process's RSS while no census ran (from the end of the first census to the start of the last,
   * less the middle one): at the first wait's start, at the last wait's end, what it grew by over the
   * waits (bytes) and their seconds. Absent where /proc cannot be read.
   */
  rssBetween?: { before: number; after: number; grown: number; seconds: number };
  /** Modules the second census saw and the first did not: their tables are new, not what grows. */
  importedMeanwhile?: string[];
  totals?: { before: { objects: number; size: number }; after: { objects: number; size: number } };
  args: string;
}
/** `gilstatOn`: flight-profiler's `gilstat on T H I M` (defaults 10 10 5 500, the seed's). */
export interface GilstatParams {
  /** Alert when a thread waited longer than this to take the GIL (ms). */
  takeMs?: number;
  /** Alert when a thread held the GIL longer than this (ms). */
  holdMs?: number;
  /** One report every this many seconds. */
  intervalSeconds?: number;
  /** Report at most this many threads. */
  maxThreads?: number;
}

/** One thread in a gilstat report: cumulative figures since `on` (ns) and the last interval's (ms). */
export interface GilThread {
  time: string;
  /** pthread id in hex, as the agent prints it ("0": a thread it had not seen yet). */
  threadId: string;
  thread: string;
  takeCount: number;
  holdNs: number;
  holdAvgNs: number;
  /** Time spent waiting in take_gil. */
  waitNs: number;
  waitAvgNs: number;
  dropCount: number;
  /** flight-profiler's own threads (flight-profiler-*, gil_stat). */
  agent: boolean;
  intervalHoldMs: number;
  /** 0 when sampled (a sample cannot see waits). */
  intervalWaitMs: number;
  intervalTakes: number;
  /** Sampled measure only: in how many samples the thread held the GIL / was active. */
  gilSamples?: number;
  activeSamples?: number;
}

/** One take or hold longer than its threshold. */
export interface GilAlert {
  time: string;
  threadId: string;
  thread: string;
  /** wait: waited that long to take the GIL; hold: held it that long. */
  event: 'wait' | 'hold';
  ms: number;
  startNs: number;
  endNs: number;
}

/** One `record` of `gilstatOn` per report (every interval); threads by hold time in the interval, most first. */
export interface GilstatRecord {
  index: number;
  time: string | null;
  /**
   * Which measure: `intercept` = flight-profiler's take_gil/drop_gil interceptor (exact times, waits,
   * alerts); `sampled` = no symbols for take_gil/drop_gil (a stripped interpreter): py-spy samples of
   * which thread holds the GIL, from outside; no waits, no alerts; `why` says why.
   */
  measure: GilMeasure;
  /** Sampled: how many samples the report is made of. */
  samples?: number;
  why?: string;
  intervalSeconds: number;
  /** Seconds since the previous report, from the agent's timestamps (the first: intervalSeconds): its
   * stat thread wakes every 0.5 s, so a "1 s" interval is 1–1.5 s. Shares are of this. */
  elapsedSeconds: number;
  threads: GilThread[];
  alertCount: number;
  /** At most 200 per report. */
  alerts: GilAlert[];
  /** True when older alerts were dropped: the agent keeps only the newest 51 between reports. */
  alertsCut: boolean;
}

export type GilMeasure = 'intercept' | 'sampled';

export interface GilstatSummary {
  measure?: GilMeasure;
  count: number;
  reason: 'stopped' | 'exited';
  /** The agent's arguments, `T H I M`. */
  args: string;
}

/** Read from outside the target: where take_gil/drop_gil are, and whether they are intercepted now. */
export interface GilstatState {
  symbols: Record<string, string>;
  searched: string[];
  intercepted: Record<string, boolean>;
}

/** `gcWatch`: how long to watch the target's collector, and after how long to stop once a full collection was seen (or cannot stall). */
export interface GcWatchParams {
  seconds: number;
  enoughAfter?: number;
}

/** A stretch of reads that found the target collecting: the generation whose count rose across it (null: not seen), its length. */
export interface GcPause {
  generation: 0 | 1 | 2 | null;
  ms: number;
  atSeconds: number;
  /** Still collecting when the watch ended. */
  ongoing?: boolean;
}

/** What the target's cyclic collector did while `gcWatch` read it from outside (gc_state.py). */
export type GcWatchResult = { supported: false; reason: string } | {
  supported: true;
  seconds: number;
  polls: number;
  /** `time`, `enough`, `cancelled`, or `unreadable: …` (the target ended). */
  ended: string;
  /** Collections per generation during the watch, and objects they freed. */
  collections: [number, number, number];
  collected: [number, number, number];
  collectionsSinceStart: [number, number, number];
  pauses: GcPause[];
  gcMs: number;
  /** Objects in the oldest generation after its last full collection (what the next one walks), null where not found. */
  longLived: number | null;
  longLivedPending: number | null;
};

/** `torch profile` of the next call of `module [class] method`; the target writes, the helper moves the file into `outputDir`. */
export interface TorchProfileParams {
  module: string;
  class?: string;
  method: string;
  nested?: string;
  /** An existing absolute directory the caller owns: where the produced file ends up. */
  outputDir: string;
}

export interface TorchFileResult {
  /** The produced file, in `outputDir`. */
  file: string;
  bytes: number;
  /** The agent's argument string (with the staging path the target wrote to). */
  args: string;
  elapsedMs: number;
}

export interface TorchProfileResult extends TorchFileResult {
  cudaAvailable: boolean;
  torchVersion: string;
  /** flight-profiler's CUDA-only gate was lifted for this CPU-only process (helper commands/pytorch.py). */
  enabledWithoutCuda: boolean;
}

/** `torch memory -s` (no `record`) or `torch memory -r module [class] method` (`record: true`). */
export interface TorchMemoryParams {
  record?: boolean;
  module?: string;
  class?: string;
  method?: string;
  nested?: string;
  outputDir: string;
  /** Top allocations in the summary (default 15). */
  limit?: number;
}

export interface TorchAllocation {
  bytes: number;
  device: number | null;
  /** The first frame outside torch that allocated it, when the snapshot recorded frames. */
  where: { function: string | null; file: string; line: number | null } | null;
}

export interface TorchSnapshotSummary {
  segments: number;
  reservedBytes: number;
  allocatedBytes: number;
  allocations: number;
  top: TorchAllocation[];
}

export interface TorchMemoryResult extends TorchFileResult {
  summary: TorchSnapshotSummary;
}

/** One console line's answer (python/pyflight_helper/live_code.py runs it inside the target). */
export interface ConsoleAnswer {
  /** the line opened a block (`def …:`): the console waits for more lines */
  more: boolean;
  /** what the line printed, its repr (as the Python REPL shows it) and any traceback */
  output: string;
  /** the line was exit() / quit(): the console is gone in the target */
  closed: boolean;
}

/** `eval`: an expression (or, when it is not one, statements) run once in the target. */
export interface EvalResult {
  ok: boolean;
  /** repr() of the value, cut after 20,000 characters; null for statements */
  value?: string | null;
  type?: string | null;
  /** on failure: syntax (nothing ran) or exception (it ran and raised) */
  kind?: 'syntax' | 'exception';
  /** the SyntaxError or the traceback, as Python formats it */
  error?: string;
  exceptionType?: string;
  /** what it printed */
  output: string;
}

export interface ReloadParams {
  module: string;
  class?: string;
  function: string;
  /** the new text of the whole file (e.g. the editor's); default: the file the module was loaded from */
  text?: string;
  /** texts the caller saw before the edit: candidates for the source of the code running now */
  oldTexts?: string[];
}

export interface ReloadPlan {
  /** false: refused (`error` says why); the old code keeps running */
  ok: boolean;
  error?: string;
  /** the module's file in the target */
  file: string;
  /** the function's new text (the def, without decorators) */
  newSource?: string;
  /** the text that compiles to the code the target runs now, or null when no known text does */
  oldSource?: string | null;
  /** the new text compiles to other code than the target runs */
  changed?: boolean;
  /** what the reload will not fix: names the module lacks, a changed signature */
  warnings?: string[];
  /** reloadApply: the code was swapped */
  applied?: boolean;
}

/** A function whose text in the file compiles to other code than the target runs. */
export interface StaleFunction {
  class: string | null;
  function: string;
  /** 1-based line of the def */
  line: number;
}

/** `exceptionWindow`: a trace hook on every thread of the target for `seconds`, then removed. */
export interface ExceptionWindowParams {
  /** 0.5–30, default 3 */
  seconds?: number;
  /** Stop recording after this many exceptions (1–100000, default 5000). */
  maxEvents?: number;
}

/** Where an exception stopped propagating: the frame (at its call line) and the except clause there. */
export interface ExceptionHandlerFrame {
  file: string;
  function: string;
  /** The line of the frame when the exception reached it (the call that raised). */
  line: number;
  count: number;
  /** true: an except clause around that line matches the exception's classes; false: none does (it
   * left that frame into code that is not traced: a library or the thread's end); null: no source. */
  caught: boolean | null;
  clause?: string;
  clauseLine?: number;
  /** `except:`, `except Exception`, `except BaseException`. */
  broad?: boolean;
  /** The clause raises again (so it is not swallowed there). */
  reraises?: boolean;
  /** The clause drops it without a trace: a body of only pass/continue/break, or `with contextlib.suppress(...)`. */
  silent?: boolean;
  /** The code outside the application that called this frame (where an exception that leaves it goes): a thread pool's `_WorkItem.run`. */
  caller?: { file: string; function: string };
}

/** One raising function × exception type seen in the window. */
export interface ExceptionEntry {
  file: string;
  /** Qualified name (`Worker.handle`) of the innermost frame of the application's code. */
  function: string;
  firstLine: number;
  type: string;
  typeModule: string;
  mro: string[];
  count: number;
  /** The first few occurrences: message, the line that raised, the arguments of the raising frame. */
  samples: Array<{ message: string; line: number; raisedIn: { file: string; function: string; line: number }; args: string; thread: string }>;
  handlers: ExceptionHandlerFrame[];
  /** Occurrences per thread name. */
  threads: Record<string, number>;
  /** Occurrences still propagating when the window closed (no handler known yet). */
  inFlight?: number;
}

export interface ExceptionWindowResult {
  seconds: number;
  startedAt: number;
  endedAt: number;
  /** "time", "count" (maxEvents reached), "removed" (read before its end) */
  stopReason: string | null;
  events: number;
  maxEvents: number;
  dropped: number;
  tracedThreads: string[];
  /** Threads left alone because something else (a debugger, coverage) traces them. */
  skippedThreads: string[];
  /** By count, most first. */
  exceptions: ExceptionEntry[];
  /** Threads that still have a trace function after the window was removed (ours or anyone's). */
  stillTraced: string[];
  cancelled: boolean;
  /** How it counted: a trace hook on every thread (3.11) or sys.monitoring's EXCEPTION_HANDLED (3.12+). */
  mechanism?: 'trace' | 'sys.monitoring';
}

export interface ExceptionHookCheck {
  stillTraced: string[];
  /** True while the window's module is registered in the target's sys.modules. */
  registered: boolean;
}

/** `memHolders`: the referrer chains from a type's objects up to a module global or class attribute. */
export interface MemHoldersParams {
  /** As pympler names the type's module; `builtins` for dict, list, str … */
  module: string;
  /** The class's qualname (or the built-in type's name). */
  class: string;
  /** Objects (or, for a built-in type, containers) to explain, 1–50, default 5. */
  samples?: number;
  /** Bound of the search in the target, 0.5–60 s, default 5. */
  maxSeconds?: number;
  /** Bound on the objects expanded, default 400. */
  maxNodes?: number;
  /** Container lengths from an earlier `memContainers`: built-in types rank containers by growth. */
  before?: Record<string, number>;
  /** `floor` of that memContainers answer. */
  beforeFloor?: number;
  /**
   * A named container a census found keeping this class (its newest values are instances of it):
   * checked in the target without a heap pass; the search runs as usual when it does not hold them.
   */
  via?: { path: string; kind: 'global' | 'classAttr' };
  /** With `via`: the live instance count the census gave (no heap pass counts them). */
  instances?: number;
  /**
   * Each heap pass in slices (issue 19): one gc.get_objects() listing searched in chunks between which
   * the target's threads run, instead of one gc.get_referrers over every reference (a pause of
   * 145–550 ms on 20 M objects). More CPU, same answers; for heaps of millions of objects.
   */
  sliced?: boolean;
}

export interface HolderStep {
  /** How the previous step refers to this object: `[1234]`, `['key']`, `.attr`, `.__self__`; '' for the root. */
  label: string;
  norm: string;
  /** `module.Class`, or a built-in type name. */
  type: string;
  /** Length of a built-in container; null otherwise. */
  len: number | null;
  /** Its length at the start of the interval, when memContainers listed it (a container of 64+ entries then). */
  lenBefore?: number;
  /** A plain function on the way (a closure: a handler subscribed with a lambda): its name and where it is defined. */
  function?: { name: string; file: string; line: number };
}

export interface Holder {
  /** `instance`: no chain reached a name; the nearest object of a class of the program on the way (its class as `name`), which only a running function's locals or C code keep. */
  root: { kind: 'global' | 'classAttr' | 'instance'; module: string; name: string; attr?: string; path: string };
  /** Root first, down to the sampled object (or container). */
  steps: HolderStep[];
  /** How many of the sampled objects this chain explains. */
  samples: number;
  /** For a built-in type: entries the container gained since `before` (its length when it was not there). */
  grown: number | null;
  /** The sampled object is one of the objects that grow in number: an instance of a growing class, or a built-in container
   * absent from `before` (new, or shorter than every container it lists then). null: not known (no `before`). */
  fresh?: boolean | null;
  /** The line that creates the holder: the instance attribute on the chain, or the global / class attribute. */
  definition: { file: string; line: number; what: string } | null;
}

export interface MemHoldersResult {
  module: string;
  class: string;
  builtin: boolean;
  /** Live instances of the class (null for a built-in type: not countable by type). */
  instances: number | null;
  sampled: number;
  holders: Holder[];
  /** Sampled objects whose chain did not reach a global or class attribute within the bounds. */
  unresolved: number;
  /** Sampled objects whose whole chain has no other referrer the collector sees: a running function's local variable or C code holds them. */
  heldInvisibly: number;
  /** Objects frozen with gc.freeze() (not seen by gc.get_referrers: a holder among them is invisible); absent from older helpers. */
  frozen?: number;
  /** Sampled objects held by a running function's local variable (frames are not followed). */
  heldByFrames: Array<{ function: string; file: string; line: number; samples: number }>;
  /** Allocation sites (tracemalloc, only when the target traces already); null when it does not trace. */
  createdAt: Array<Array<{ file: string; line: number }>> | null;
  /** "time" or "objects" when a bound stopped the search; null when it finished. */
  stoppedBy: 'time' | 'objects' | null;
  expanded: number;
  heapPasses: number;
  /** Samples nothing but a running function's frame (or C code) refers to: objects in flight, not kept. */
  heldDirectly?: number;
  /**
   * Whether the passes were sliced; the longest C call or slice of them (ms, wall time: includes
   * where other threads took the GIL mid-slice, so an upper bound of the target's pause); the longest
   * gc.get_objects() of sliced passes (ms).
   */
  sliced?: boolean;
  longestPauseMs?: number;
  /** Samples in a reference cycle nothing else refers to (garbage the collector frees at its next pass). */
  garbage?: number;
  /** The searching thread's CPU time in that pause: much less when the host kept the process off a CPU (the pause is then the host's). */
  longestPauseCpuMs?: number;
  listMs?: number;
  /** The holder is the named container the request gave (`via`), checked without a heap pass. */
  via?: boolean;
  elapsedMs: number;
}

export interface MemContainersResult {
  /** id → length of the biggest containers (dict, list, set, deque of 64 or more entries). */
  containers: Record<string, number>;
  /** When the list was cut to its limit: the length of the shortest container kept (one left out was no longer). */
  floor?: number;
}
