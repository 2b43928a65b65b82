import { isAlive } from '../common/processAlive';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../common/errors';
import { Emitter } from '../common/event';
import type { Logger } from '../common/logger';
import { settingDefault } from '../common/settings';
import { HelperProcess } from '../helper/helperProcess';
import { assertProfilerInstalled } from '../preflight/installProfiler';
import { preflight, type PreflightResult } from '../preflight/preflight';
import type { AttachResult, ConsoleAnswer, EvalResult, ForceGcResult, GetGlobalParams, GetGlobalResult, GilstatParams, GilstatRecord, GilstatState,
  HelloResult, HelperMethods, InstancesParams, InstancesResult, ListGlobalsResult, MemDiffParams, MemDiffResult, MemSummaryParams, MemSummaryResult,
  ModuleResult, ReloadParams, ReloadPlan, StackResult, StaleFunction, TorchMemoryParams, TorchMemoryResult, TorchProfileParams, TorchProfileResult,
  TtDetail, TtRecord } from '../protocol/helper';
import type { ExceptionHookCheck, ExceptionWindowParams, ExceptionWindowResult } from '../protocol/helper';
import type { MemContainersResult, MemHoldersParams, MemHoldersResult } from '../protocol/helper';
import { GilStat } from './gilStat';
import { PROBE_AGENT_TARGET, type ProbeRecord } from '../protocol/helper';
import { Probe, type ProbeMethod, type ProbeStartOptions } from './probe';

/**
 * preflight → starting (helper spawned) → attaching → ready → detaching → detached.
 * `failed` (attach did not complete) and `targetExited` / `helperCrashed` are final too.
 */
export type SessionState =
  | 'preflight'
  | 'starting'
  | 'attaching'
  | 'ready'
  | 'detaching'
  | 'detached'
  | 'failed'
  | 'targetExited'
  | 'helperCrashed';

const FINAL: ReadonlySet<SessionState> = new Set(['detached', 'failed', 'targetExited', 'helperCrashed']);

export interface SessionOptions {
  log: Logger;
  configuredPython?: string;
  attachTimeoutSeconds?: number;
  /** How often to check that the target is still alive (ms); 0 disables. */
  livenessIntervalMs?: number;
  /**
   * Asked once before the agent is loaded into the target (the first command that needs it).
   * Resolves false to refuse: the command then fails with CANCELLED. Absent = load without asking.
   */
  confirmAgentLoad?: (session: Session) => Promise<boolean>;
}

export interface AttachProgress {
  (message: string): void;
}

/**
 * One attached process: owns its helper, exposes typed commands and state events.
 *
 * Attaching loads nothing into the target: stacks are read from outside (pystack, py-spy). The
 * PyFlightProfiler agent is loaded on the first command that needs it (watch, trace, time tunnel,
 * values, module lookup, async tasks), after `confirmAgentLoad`, and stays until the process exits.
 */
export class Session {
  private _state: SessionState = 'preflight';
  private helper: HelperProcess | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private readonly onDidChangeStateEmitter = new Emitter<SessionState>();
  readonly onDidChangeState = this.onDidChangeStateEmitter.event;
  private readonly onDidLoadAgentEmitter = new Emitter<AttachResult>();
  /** Fires once the agent runs in the target. */
  readonly onDidLoadAgent = this.onDidLoadAgentEmitter.event;
  private readonly activeProbes = new Set<Probe>();
  /** Modules a getglobal found in the target's sys.modules (see getglobal). */
  private readonly importedModules = new Set<string>();
  private readonly onDidChangeProbesEmitter = new Emitter<Probe>();
  /** Fires when a probe starts, installs, records or ends. */
  readonly onDidChangeProbes = this.onDidChangeProbesEmitter.event;
  private readonly onDidStartProbeEmitter = new Emitter<Probe>();
  /** Fires once per probe, whoever started it (editor command, CLI, chat, …), before `startProbe` returns. */
  readonly onDidStartProbe = this.onDidStartProbeEmitter.event;
  preflightResult: PreflightResult | undefined;
  hello: HelloResult | undefined;
  /** Set once the agent is loaded (or was found from an earlier attach). */
  attachResult: AttachResult | undefined;
  private agentLoading: Promise<void> | undefined;
  private agentApproved = false;
  /** Settles once probes left by a crashed helper are turned off (tests and detach wait on it). */
  probesCleanedUp: Promise<void> = Promise.resolve();
  /** Why the session ended, when it did not end by detach. */
  endReason: PyFlightError | undefined;
  readonly startedAt = Date.now();

  constructor(
    readonly pid: number,
    private readonly options: SessionOptions,
  ) {}

  get state(): SessionState {
    return this._state;
  }

  get isFinal(): boolean {
    return FINAL.has(this._state);
  }

  /** Short label for views: "busy_service.py (pid 123)". */
  get label(): string {
    const argv = this.preflightResult?.facts.argv ?? [];
    const script = argv.slice(1).find((a) => !a.startsWith('-')) ?? argv[0] ?? 'python';
    return `${script.split('/').pop()} (pid ${this.pid})`;
  }

  private setState(state: SessionState): void {
    if (this._state === state) return;
    this.options.log.info(`session ${this.pid}: ${this._state} → ${state}`);
    this._state = state;
    this.onDidChangeStateEmitter.fire(state);
  }

  /** Runs preflight, starts the helper and attaches. Throws a PyFlightError; the session is then `failed`. */
  async attach(progress: AttachProgress = () => undefined, signal?: AbortSignal): Promise<void> {
    try {
      progress(`Checking process ${this.pid}…`);
      this.preflightResult = await preflight(this.pid, this.options.configuredPython);
      const python = this.preflightResult.interpreter.python;
      this.options.log.info(`session ${this.pid}: interpreter ${python} (from ${this.preflightResult.interpreter.source})`);
      this.setState('starting');
      this.helper = new HelperProcess(python, this.options.log);
      this.helper.onDidExit(({ expected }) => this.onHelperExit(expected));
      this.helper.start();
      this.hello = await this.helper.request('hello', {}, { signal });
      assertProfilerInstalled(this.hello, python);
      this.setState('attaching');
      progress(`Opening process ${this.pid}…`);
      const opened = await this.helper.request('open', { pid: this.pid }, { signal });
      if (opened.agentPort !== null) this.attachResult = { pid: this.pid, port: opened.agentPort, reused: true };
      this.setState('ready');
      this.startLivenessCheck();
    } catch (error) {
      const failure = PyFlightError.from(error);
      this.endReason = failure;
      await this.helper?.stop();
      this.setState('failed');
      throw failure;
    }
  }

  /**
   * Whether `file` lies under the target's working directory or its script's folder: a guess that
   * needs nothing from the target, for routing while no agent is loaded.
   */
  ownsPath(file: string): boolean {
    const facts = this.preflightResult?.facts;
    if (!facts) return false;
    const script = facts.argv.slice(1).find((a) => a.endsWith('.py'));
    const roots = [facts.cwd, script && facts.cwd ? path.dirname(path.resolve(facts.cwd, script)) : undefined]
      .filter((r): r is string => Boolean(r) && r !== '/');
    return roots.some((root) => file === root || file.startsWith(root.endsWith(path.sep) ? root : root + path.sep));
  }

  /** The user agreed already (e.g. once for every worker of a server): loading will not ask. */
  approveAgentLoad(): void {
    this.agentApproved = true;
  }

  /** True once the PyFlightProfiler agent runs in the target. */
  get agentLoaded(): boolean {
    return this.attachResult !== undefined;
  }

  /**
   * Loads the agent into the target unless it is there already (asks `confirmAgentLoad` first).
   * Concurrent callers share one load.
   */
  loadAgent(signal?: AbortSignal, progress: AttachProgress = () => undefined): Promise<void> {
    if (this.attachResult) return Promise.resolve();
    this.agentLoading ??= this.doLoadAgent(signal, progress).finally(() => { this.agentLoading = undefined; });
    return this.agentLoading;
  }

  private async doLoadAgent(signal: AbortSignal | undefined, progress: AttachProgress): Promise<void> {
    if (this._state !== 'ready' || !this.helper) {
      throw this.endReason ?? new PyFlightError(ErrorCode.HelperProtocol, `Session ${this.pid} is ${this._state}.`, 'Attach again.');
    }
    if (this.options.confirmAgentLoad && !this.agentApproved && !(await this.options.confirmAgentLoad(this))) {
      throw new PyFlightError(ErrorCode.Cancelled, `The agent was not loaded into process ${this.pid}.`,
        'Stacks work without it; watch, trace, time tunnel and values need it.');
    }
    progress(`Loading the PyFlightProfiler agent into ${this.pid}…`);
    try {
      const result = await this.helper.request('attach', { pid: this.pid, timeoutSeconds: this.options.attachTimeoutSeconds ?? settingDefault('attachTimeoutSeconds') }, {
        signal,
        onProgress: (stage) => progress(stage === 'scanning' ? 'Looking for an existing agent…'
          : stage === 'injecting' ? `Loading the agent into ${this.pid}…` : 'Connecting to the agent…'),
      });
      this.attachResult = result;
      const stages = Object.entries(result.stagesMs ?? {}).map(([k, v]) => `${k} ${v} ms`).join(', ');
      this.options.log.info(`session ${this.pid}: agent ${result.reused ? 'found' : 'loaded'} on port ${result.port}${stages ? ` (${stages})` : ''}`);
      this.onDidLoadAgentEmitter.fire(result);
    } catch (error) {
      const failure = PyFlightError.from(error);
      if (failure.code === ErrorCode.TargetExited || failure.code === ErrorCode.PidNotFound) await this.onTargetExit();
      throw failure;
    }
  }

  stack(params: { native?: boolean; async?: boolean; includeAgentThreads?: boolean }, signal?: AbortSignal): Promise<StackResult> {
    return this.run('stack', params, signal, Boolean(params.async));
  }

  module(file: string, signal?: AbortSignal): Promise<ModuleResult> {
    return this.run('module', { file }, signal);
  }

  /** A module global or class attribute as the agent renders it (never imports a module). */
  async getglobal(params: GetGlobalParams, signal?: AbortSignal): Promise<GetGlobalResult> {
    // A module seen imported stays imported (sys.modules keeps it): its check, a second round trip
    // to the agent, is made once per process, not on every read (a live Values view reads often).
    const imported = params.imported || this.importedModules.has(params.module);
    const result = await this.run('getglobal', imported ? { ...params, imported: true } : params, signal);
    this.importedModules.add(params.module);
    return result;
  }

  /** The global names of an imported module, with their kinds. */
  listGlobals(module: string, signal?: AbortSignal): Promise<ListGlobalsResult> {
    return this.run('listGlobals', { module }, signal);
  }

  /** Live instances of a class (vmtool getInstances): all counted, the first `limit` rendered. */
  getInstances(params: InstancesParams, signal?: AbortSignal): Promise<InstancesResult> {
    return this.run('getInstances', params, signal);
  }

  /** gc.collect() in the target (vmtool forceGc). It changes the target: callers confirm first. */
  forceGc(signal?: AbortSignal): Promise<ForceGcResult> {
    return this.run('forceGc', {}, signal);
  }

  /** Opens a console inside the target (runs code there: the caller asked the user first). */
  consoleOpen(id: string, signal?: AbortSignal): Promise<{ id: string; banner: string }> {
    return this.run('consoleOpen', { id }, signal);
  }

  /** One console line; aborting `signal` interrupts it in the target (at its next bytecode). */
  consoleInput(id: string, line: string, signal?: AbortSignal): Promise<ConsoleAnswer> {
    return this.run('consoleInput', { id, line }, signal);
  }

  consoleReset(id: string): Promise<Record<string, never>> {
    return this.run('consoleReset', { id });
  }

  consoleClose(id: string): Promise<Record<string, never>> {
    return this.run('consoleClose', { id });
  }

  /** Evaluates an expression (or runs statements) once in the target. */
  evaluate(expression: string, signal?: AbortSignal): Promise<EvalResult> {
    return this.run('eval', { expression }, signal);
  }

  /** What a reload would do (nothing changes in the target). */
  reloadPlan(params: ReloadParams, signal?: AbortSignal): Promise<ReloadPlan> {
    return this.run('reloadPlan', params, signal);
  }

  /** Swaps the function's code; RELOAD_REFUSED (old code kept) when the new source cannot be used. */
  reloadApply(params: ReloadParams, signal?: AbortSignal): Promise<ReloadPlan> {
    return this.run('reloadApply', params, signal);
  }

  /** Functions of `module` whose text (default: the file on disk) differs from the code running. */
  reloadStale(module: string, text?: string, signal?: AbortSignal): Promise<{ functions: StaleFunction[] }> {
    return this.run('reloadStale', { module, text }, signal);
  }

  ttList(signal?: AbortSignal): Promise<{ records: TtRecord[] }> {
    return this.run('ttList', {}, signal);
  }

  /** One record in full; values are Python reprs, up to 2,000 characters each (200,000 with `verbose`). */
  ttDetail(index: number, options: { verbose?: boolean } = {}, signal?: AbortSignal): Promise<TtDetail> {
    return this.run('ttDetail', { index, ...options }, signal);
  }

  /** Re-runs a recorded call inside the target (side effects included): callers must confirm first. */
  /**
   * Re-runs a recorded call inside the target (side effects included): callers must confirm first.
   * Resolves with the replay's record (`replayOf` = the call it re-ran) also when the replay raised:
   * then `exceptionLine`, `exception` and, for framework views, `hint` say why.
   */
  ttReplay(index: number, options: { verbose?: boolean } = {}, signal?: AbortSignal): Promise<TtDetail> {
    return this.run('ttReplay', { index, ...options }, signal);
  }

  ttDelete(which: { index?: number; all?: boolean }, signal?: AbortSignal): Promise<{ message: string }> {
    return this.run('ttDelete', which, signal);
  }

  /** The biggest types by size (a full heap walk in the target; loads the agent on first use). */
  memSummary(params: MemSummaryParams = {}, signal?: AbortSignal): Promise<MemSummaryResult> {
    return this.run('memSummary', params, signal);
  }

  /**
   * What grew over `interval` seconds. `onWaiting` is called once the agent took its first snapshot
   * and sleeps. Aborting rejects at once with CANCELLED, but the agent cannot stop: it finishes
   * its sleep and a second heap walk, then drops the answer (the message says so).
   */
  memDiff(params: MemDiffParams = {}, signal?: AbortSignal, onWaiting?: (seconds: number) => void): Promise<MemDiffResult> {
    return this.run('memDiff', params, signal, true, (stage, detail) => { if (stage === 'waiting') onWaiting?.(Number(detail)); });
  }

  /**
   * flight-profiler's `torch profile`: wraps the *next* call of the function in torch.profiler and
   * moves the Chrome trace into `params.outputDir`. `onWaiting` fires once the wrapper is in place and
   * the call is awaited; aborting removes the wrapper (`off`). Fails with TORCH_MISSING when the
   * target has not imported torch.
   */
  async torchProfile(params: TorchProfileParams, signal?: AbortSignal, onWaiting?: () => void): Promise<TorchProfileResult> {
    await this.torchLibrary(signal);
    return this.run('torchProfile', params, signal, true, (stage) => { if (stage === 'waiting') onWaiting?.(); });
  }

  /** The target's mapped libtorch, read from outside (no agent); TORCH_MISSING when it has not imported torch. */
  async torchLibrary(signal?: AbortSignal): Promise<string> {
    return (await this.run('torchCheck', {}, signal, false)).library;
  }

  /** `torch memory -s` (now) or `-r` (around the next call): a CUDA allocator snapshot; TORCH_NO_CUDA without CUDA. */
  async torchMemory(params: TorchMemoryParams, signal?: AbortSignal, onWaiting?: () => void): Promise<TorchMemoryResult> {
    await this.torchLibrary(signal);
    return this.run('torchMemory', params, signal, true, (stage) => { if (stage === 'waiting') onWaiting?.(); });
  }

  /**
   * Counts the exceptions raised in the target's own code for `seconds` (a trace hook on every
   * thread, always removed; loads the agent on first use). `onWaiting` once the hook is in.
   */
  exceptionWindow(params: ExceptionWindowParams = {}, signal?: AbortSignal, onWaiting?: (seconds: number) => void): Promise<ExceptionWindowResult> {
    return this.run('exceptionWindow', params, signal, true, (stage, detail) => { if (stage === 'waiting') onWaiting?.(Number(detail)); });
  }

  /**
   * What holds the objects of a type: referrer chains up to a module global or class attribute,
   * searched in the target within `maxSeconds` (read-only; the search keeps nothing).
   */
  memHolders(params: MemHoldersParams, signal?: AbortSignal): Promise<MemHoldersResult> {
    return this.run('memHolders', params, signal);
  }

  /** Lengths of the biggest containers now, for a later `memHolders` on a built-in type (growth). */
  memContainers(params: { limit?: number } = {}, signal?: AbortSignal): Promise<MemContainersResult> {
    return this.run('memContainers', params, signal);
  }

  /** Which threads of the target have a trace function now (proof that a window was removed). */
  exceptionHookCheck(signal?: AbortSignal): Promise<ExceptionHookCheck> {
    return this.run('exceptionHookCheck', {}, signal);
  }

  get probes(): Probe[] {
    return [...this.activeProbes];
  }

  /**
   * Starts a watch / trace / tt recording. Records arrive on `probe.onDidRecord`; `probe.done`
   * settles when the limit is reached, the probe is stopped, or it fails (bad location, …).
   * `onDidStartProbe` fires before this returns, so listeners (the ProbeStore) see every record.
   */
  startProbe<M extends ProbeMethod>(method: M, params: HelperMethods[M]['params'], options: ProbeStartOptions = {}): Probe<M> {
    const probe = new Probe<M>(this.pid, method, params, options.source, options.group);
    const anyProbe = probe.anyKind; // the set holds probes of every method
    if (this._state !== 'ready' || !this.helper) {
      const error = this.notReady();
      probe.done = Promise.reject(error);
      probe.done.catch(() => undefined);
      probe.finished(undefined, error);
      this.onDidStartProbeEmitter.fire(anyProbe);
      return probe;
    }
    this.activeProbes.add(anyProbe);
    const changed = () => this.onDidChangeProbesEmitter.fire(anyProbe);
    const sub = probe.onDidChange(changed);
    const helper = this.helper;
    probe.done = this.loadAgent(probe.abort.signal)
      .then(() => helper.request(method, params, {
        signal: probe.abort.signal,
        onProgress: (stage, detail) => { if (stage === 'installed') probe.installed(detail ?? undefined); },
        // The helper sends the record type of the method it was asked for (protocol/helper.ts ProbeMethods).
        onRecord: (record) => probe.recorded(record as ProbeRecord<M>),
      }))
      .then(
        (summary) => {
          probe.finished(summary, undefined);
          return summary;
        },
        (error: unknown) => {
          const failure = PyFlightError.from(error);
          probe.finished(undefined, failure);
          throw failure;
        },
      )
      .finally(() => {
        sub.dispose();
        if (this.helperCrashedProbes.has(anyProbe)) return; // cleaned up after the crash
        this.activeProbes.delete(anyProbe);
        changed();
      });
    probe.done.catch(() => undefined); // callers observe failures through the probe; never unhandled
    this.onDidStartProbeEmitter.fire(anyProbe);
    changed();
    return probe;
  }

  /** Why a command cannot run now: the reason the session ended, or its state. */
  private notReady(): PyFlightError {
    return this.endReason ?? new PyFlightError(ErrorCode.HelperProtocol, `Session ${this.pid} is ${this._state}.`, 'Attach again.');
  }

  /** Stops every active probe and waits until each is turned off. */
  async stopAllProbes(): Promise<void> {
    const probes = this.probes;
    for (const probe of probes) probe.stop();
    await Promise.allSettled(probes.map((p) => p.done));
  }

  private activeGilstat: GilStat | undefined;
  private readonly onDidStartGilstatEmitter = new Emitter<GilStat>();
  /** Fires when gilstat starts in this target, whoever started it. */
  readonly onDidStartGilstat = this.onDidStartGilstatEmitter.event;

  /** The live `gilstat on` of this session, if any. */
  get gilstat(): GilStat | undefined {
    return this.activeGilstat?.isActive ? this.activeGilstat : undefined;
  }

  /**
   * Turns on flight-profiler's GIL statistics (loads the agent first, after consent): one record per
   * interval on `onDidRecord`; `stop()` turns it off in the target; `done` settles when it ends.
   * One per session: a second call returns the live one.
   */
  startGilstat(params: GilstatParams = {}): GilStat {
    if (this.activeGilstat?.isActive) return this.activeGilstat;
    const gil = new GilStat(this.pid, params);
    if (this._state !== 'ready' || !this.helper) {
      const error = this.notReady();
      gil.done = Promise.reject(error);
      gil.done.catch(() => undefined);
      gil.finished(undefined, error);
      return gil;
    }
    this.activeGilstat = gil;
    const helper = this.helper;
    // The interceptor needs the agent; an interpreter without take_gil/drop_gil symbols is sampled
    // from outside (py-spy), so nothing is loaded for it.
    gil.done = helper.request('gilstatState', {}, { signal: gil.abort.signal })
      .then((state) => (state.symbols.take_gil && state.symbols.drop_gil ? this.loadAgent(gil.abort.signal) : undefined))
      .then(() => helper.request('gilstatOn', params, {
        signal: gil.abort.signal,
        onProgress: (stage, detail) => gil.progressed(stage, detail as unknown),
        onRecord: (record) => gil.recorded(record as GilstatRecord),
      }))
      .then(
        (summary) => {
          gil.finished(summary, undefined);
          return summary;
        },
        async (error: unknown) => {
          const failure = PyFlightError.from(error);
          gil.finished(undefined, failure);
          if (failure.code === ErrorCode.TargetExited || failure.code === ErrorCode.PidNotFound) await this.onTargetExit();
          throw failure;
        },
      );
    gil.done.catch(() => undefined);
    this.onDidStartGilstatEmitter.fire(gil);
    return gil;
  }

  /** Where take_gil/drop_gil are and whether an interceptor is on them now, read from outside (no agent). */
  gilstatState(signal?: AbortSignal): Promise<GilstatState> {
    if (this._state !== 'ready' || !this.helper) return Promise.reject(this.notReady());
    return this.helper.request('gilstatState', {}, { signal });
  }

  /** After a helper crash the interceptor stays on (the agent only removes it on `off`): a fresh helper sends it. */
  private async turnOffOrphanedGilstat(): Promise<void> {
    const gil = this.activeGilstat;
    if (!gil?.sentOn || gil.summary || !this.preflightResult) return;
    const cleaner = new HelperProcess(this.preflightResult.interpreter.python, this.options.log);
    try {
      cleaner.start();
      await cleaner.request('attach', { pid: this.pid, timeoutSeconds: this.options.attachTimeoutSeconds ?? settingDefault('attachTimeoutSeconds') });
      await cleaner.request('gilstatOff', {});
      this.options.log.info(`session ${this.pid}: turned off gilstat left by the crashed helper`);
    } catch (error) {
      this.options.log.error(`session ${this.pid}: could not turn off gilstat after a helper crash: ${PyFlightError.from(error).message}`);
    } finally {
      await cleaner.stop();
    }
  }

  private readonly helperCrashedProbes = new Set<Probe>();

  /**
   * After a helper crash its probes stay installed in the target (the agent only removes one on
   * `off` or at its limit). A fresh helper reattaches (the agent is reused) and turns each off.
   */
  private async turnOffOrphanedProbes(): Promise<void> {
    const orphans = this.probes.filter((p) => p.agentArgs);
    if (!orphans.length || !this.preflightResult) return;
    for (const probe of orphans) this.helperCrashedProbes.add(probe);
    const cleaner = new HelperProcess(this.preflightResult.interpreter.python, this.options.log);
    try {
      cleaner.start();
      await cleaner.request('attach', { pid: this.pid, timeoutSeconds: this.options.attachTimeoutSeconds ?? settingDefault('attachTimeoutSeconds') });
      for (const probe of orphans) {
        await cleaner.request('probeOff', { target: PROBE_AGENT_TARGET[probe.method], args: probe.agentArgs! });
        this.options.log.info(`session ${this.pid}: turned off ${probe.method} ${probe.location} left by the crashed helper`);
      }
    } catch (error) {
      this.options.log.error(`session ${this.pid}: could not turn off probes after a helper crash: ${PyFlightError.from(error).message}`);
    } finally {
      await cleaner.stop();
      for (const probe of orphans) {
        this.activeProbes.delete(probe);
        this.helperCrashedProbes.delete(probe);
        this.onDidChangeProbesEmitter.fire(probe);
      }
    }
  }

  /** Runs one request; `needsAgent` (default: every method but a plain stack) loads the agent first. */
  private async run<M extends 'stack' | 'module' | 'getglobal' | 'listGlobals' | 'getInstances' | 'forceGc' | 'ttList' | 'ttDetail' | 'ttReplay'
    | 'ttDelete' | 'memSummary' | 'memDiff' | 'torchCheck' | 'torchProfile' | 'torchMemory'
    | 'consoleOpen' | 'consoleInput' | 'consoleReset' | 'consoleClose' | 'eval' | 'reloadPlan' | 'reloadApply' | 'reloadStale'
    | 'exceptionWindow' | 'exceptionHookCheck' | 'memHolders' | 'memContainers'>(method: M,
    params: HelperMethods[M]['params'], signal?: AbortSignal, needsAgent = method !== 'stack',
    onProgress?: (stage: string, detail?: string | null) => void): Promise<HelperMethods[M]['result']> {
    if (this._state !== 'ready' || !this.helper) throw this.notReady();
    if (needsAgent) await this.loadAgent(signal);
    try {
      // The cast keeps one code path for every method; params are typed by the public wrappers above.
      return await this.helper.request(method, params, { signal, onProgress });
    } catch (error) {
      const failure = PyFlightError.from(error);
      if (failure.code === ErrorCode.TargetExited || failure.code === ErrorCode.PidNotFound) await this.onTargetExit();
      throw failure;
    }
  }

  private startLivenessCheck(): void {
    const interval = this.options.livenessIntervalMs ?? 2000;
    if (!interval) return;
    this.livenessTimer = setInterval(() => {
      void isAlive(this.pid).then((alive) => {
        if (!alive) void this.onTargetExit();
      });
    }, interval);
    this.livenessTimer.unref();
  }

  private async onTargetExit(): Promise<void> {
    if (this.isFinal || this._state === 'detaching') return;
    this.endReason = new PyFlightError(ErrorCode.TargetExited, `Process ${this.pid} exited.`,
      'Start the program again and attach to the new process.');
    this.clearLiveness();
    await this.helper?.stop();
    this.setState('targetExited');
  }

  private onHelperExit(expected: boolean): void {
    this.clearLiveness();
    if (expected || this.isFinal || this._state === 'preflight' || this._state === 'starting' || this._state === 'attaching') return;
    this.endReason = new PyFlightError(ErrorCode.HelperCrashed, `The PyFlight helper for process ${this.pid} stopped unexpectedly.`,
      'See the PyFlight log (PyFlight: Show Log), then attach again.');
    this.setState('helperCrashed');
    this.probesCleanedUp = Promise.all([this.turnOffOrphanedProbes(), this.turnOffOrphanedGilstat()]).then(() => undefined);
  }

  private clearLiveness(): void {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.livenessTimer = undefined;
  }

  /** Stops the helper (which turns off anything it instrumented). Safe to call twice. */
  async detach(): Promise<void> {
    if (this.isFinal) return;
    this.setState('detaching');
    this.clearLiveness();
    await this.helper?.stop();
    this.setState('detached');
  }

  /** For process-exit paths where nothing can be awaited: the helper cleans up and exits by itself. */
  releaseNow(): void {
    this.clearLiveness();
    this.helper?.closeInput();
  }

  get helperPid(): number | undefined {
    return this.helper?.pid;
  }
}
