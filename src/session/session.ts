import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../common/errors';
import { Emitter, type Event } from '../common/event';
import type { Logger } from '../common/logger';
import { settingDefault } from '../common/settings';
import { HelperProcess } from '../helper/helperProcess';
import { localHost } from '../host/localHost';
import type { TargetHost } from '../host/targetHost';
import { deathHint, deathText, targetDeath, type TargetDeath } from './targetDeath';
import { assertProfilerInstalled, readerOnlyRefusal } from '../preflight/installProfiler';
import { capabilityRefusal } from '../preflight/capabilities';
import { preflight, type PreflightResult } from '../preflight/preflight';
import type { AttachResult, GetGlobalParams, GetGlobalResult, GilstatParams, HelloResult, TerminalPortRecord } from '../protocol/helper';
import { audited, HELPER_METHODS, type CallMethod, type CallOptions, type HelperCaller, type HelperMethods, type MethodSpec, type ProbeParams } from '../protocol/methods';
import { AgentLoad, type AttachProgress } from './agentLoad';
import type { GilStat } from './gilStat';
import { Liveness } from './liveness';
import type { Probe, ProbeMethod, ProbeStartOptions } from './probe';
import { targetIsGone, type SessionCore } from './sessionCore';
import { SessionGilstat } from './sessionGilstat';
import { SessionProbes } from './sessionProbes';

export type { AttachProgress } from './agentLoad';

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
  /** Where the target lives (default: this machine). */
  host?: TargetHost;
  configuredPython?: string;
  attachTimeoutSeconds?: number;
  /**
   * Whether the agent PyFlight loads may run code (console, evaluate, reload, expressions, replay,
   * forceGc). Enforced by the agent itself, fixed when it loads (setting `pyflight.agent.allowCode`).
   */
  allowCode?: boolean;
  /** How often to check that the target is still alive (ms); 0 disables. */
  livenessIntervalMs?: number;
  /**
   * Asked once before the agent is loaded into the target (the first command that needs it).
   * Resolves false to refuse: the command then fails with CANCELLED. Absent = load without asking.
   */
  confirmAgentLoad?: (session: Session) => Promise<boolean>;
  /**
   * When the target's environment has no flight-profiler (and no pyflight.pythonPath was given):
   * the python of a reader environment of the same interpreter to read it from outside with
   * (preflight/readerVenv.ts), or undefined to refuse as before. Absent = refuse.
   */
  readerFor?: (session: Session, python: string, signal?: AbortSignal) => Promise<string | undefined>;
}

/**
 * One attached process: owns its helper, sends it typed requests (`call`), and holds the parts that
 * live as long as the attach: the agent's consent and load, the probes, gilstat and the liveness check.
 *
 * Attaching loads nothing into the target: stacks are read from outside (pystack, py-spy). The
 * PyFlightProfiler agent is loaded on the first command that needs it (`needs: 'agent'` in
 * protocol/methods.ts), after `confirmAgentLoad`, and stays until the process exits.
 */
export class Session implements HelperCaller {
  private _state: SessionState = 'preflight';
  private helper: HelperProcess | undefined;
  private readonly onDidChangeStateEmitter = new Emitter<SessionState>();
  readonly onDidChangeState = this.onDidChangeStateEmitter.event;
  /** Modules a getglobal found in the target's sys.modules (see getglobal). */
  private readonly importedModules = new Set<string>();
  private readonly core: SessionCore;
  private readonly agent: AgentLoad;
  private readonly probeSet: SessionProbes;
  private readonly gil: SessionGilstat;
  private readonly liveness: Liveness;
  /** Fires once the agent runs in the target. */
  readonly onDidLoadAgent: Event<AttachResult>;
  /** Fires when a probe starts, installs, records or ends. */
  readonly onDidChangeProbes: Event<Probe>;
  /** Fires once per probe, whoever started it (editor command, CLI, chat, …), before `startProbe` returns. */
  readonly onDidStartProbe: Event<Probe>;
  /** Fires when gilstat starts in this target, whoever started it. */
  readonly onDidStartGilstat: Event<GilStat>;
  preflightResult: PreflightResult | undefined;
  hello: HelloResult | undefined;
  /** Settles once probes left by a crashed helper are turned off (tests and detach wait on it). */
  probesCleanedUp: Promise<void> = Promise.resolve();
  /** Why the session ended, when it did not end by detach. */
  endReason: PyFlightError | undefined;
  readonly startedAt = Date.now();
  /** Where the target lives: everything that reaches it from outside goes through this. */
  readonly host: TargetHost;

  constructor(
    readonly pid: number,
    private readonly options: SessionOptions,
  ) {
    const timeoutSeconds = options.attachTimeoutSeconds ?? settingDefault('attachTimeoutSeconds');
    this.host = options.host ?? localHost;
    this.core = {
      pid,
      log: options.log,
      readyHelper: () => {
        if (this._state !== 'ready' || !this.helper) throw this.notReady();
        return this.helper;
      },
      whyNotReady: () => (this._state !== 'ready' || !this.helper ? this.notReady() : undefined),
      capabilities: () => this.hello?.capabilities,
      loadAgent: (signal) => this.loadAgent(signal),
      requestFailed: async (error) => {
        const failure = PyFlightError.from(error);
        if (!targetIsGone(failure)) return failure;
        await this.onTargetExit();
        // The helper's bare "Process N exited." becomes the session's words (how it ended, when that
        // could be read); a more specific one ("… while PyFlight was loading its agent") stays.
        const generic = failure.message === `Process ${pid} exited.`;
        return generic && this.endReason?.code === ErrorCode.TargetExited ? this.endReason : failure;
      },
      withFreshHelper: async (what, cleanUp) => {
        if (!this.preflightResult) return;
        const cleaner = new HelperProcess(this.preflightResult.interpreter.python, options.log, this.host);
        try {
          cleaner.start();
          await cleaner.request('attach', { pid, timeoutSeconds });
          await cleanUp(cleaner);
        } catch (error) {
          options.log.error(`session ${pid}: could not turn off ${what} after a helper crash: ${PyFlightError.from(error).message}`);
        } finally {
          await cleaner.stop();
        }
      },
    };
    const confirm = options.confirmAgentLoad;
    this.agent = new AgentLoad(this.core, timeoutSeconds, options.allowCode ?? settingDefault('agent.allowCode'), confirm && (() => confirm(this)));
    this.probeSet = new SessionProbes(this.core);
    this.gil = new SessionGilstat(this.core);
    this.liveness = new Liveness(pid, this.host, () => void this.onTargetExit());
    this.onDidLoadAgent = this.agent.onDidLoad;
    this.onDidChangeProbes = this.probeSet.onDidChange;
    this.onDidStartProbe = this.probeSet.onDidStart;
    this.onDidStartGilstat = this.gil.onDidStart;
  }

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
      this.preflightResult = await preflight(this.pid, this.options.configuredPython, this.host);
      const python = this.preflightResult.interpreter.python;
      this.options.log.info(`session ${this.pid}: interpreter ${python} (from ${this.preflightResult.interpreter.source})`);
      this.setState('starting');
      let helper = this.startHelper(python);
      this.hello = await helper.request('hello', {}, { signal });
      // (not for an interpreter seen through /proc/<pid>/root: a container's binary is not run here)
      if (!this.hello.flightProfiler.installed && !capabilityRefusal(this.hello.capabilities, 'stack') && !this.preflightResult.interpreter.targetPython
        && !python.startsWith('/proc/') && this.options.readerFor) {
        // No flight-profiler where the process runs: read it from outside with PyFlight's reader of the same binary.
        const reader = await this.options.readerFor(this, python, signal);
        if (reader) {
          await helper.stop();
          this.preflightResult.interpreter = { python: reader, source: 'reader', targetPython: python };
          this.options.log.info(`session ${this.pid}: reading from outside with ${reader} (no flight-profiler in ${python})`);
          helper = this.startHelper(reader);
          this.hello = await helper.request('hello', {}, { signal });
        }
      }
      assertProfilerInstalled(this.hello, this.preflightResult.interpreter.python);
      this.setState('attaching');
      progress(`Opening process ${this.pid}…`);
      const opened = await helper.request('open', { pid: this.pid }, { signal });
      if (opened.agent) this.agent.result = { ...opened.agent, pid: this.pid, reused: true };
      this.setState('ready');
      this.liveness.start(this.options.livenessIntervalMs ?? 2000);
    } catch (error) {
      const failure = PyFlightError.from(error);
      this.endReason = failure;
      await this.helper?.stop();
      this.setState('failed');
      throw failure;
    }
  }

  /** Starts the session's helper with `python`. */
  private startHelper(python: string): HelperProcess {
    const helper = new HelperProcess(python, this.options.log, this.host);
    this.helper = helper;
    helper.onDidExit(({ expected }) => this.onHelperExit(expected));
    helper.start();
    return helper;
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
    this.agent.approve();
  }

  /** Set once the agent is loaded (or was found from an earlier attach). */
  get attachResult(): AttachResult | undefined {
    return this.agent.result;
  }

  /**
   * Throws CODE_EXECUTION_OFF when `what` (code to run in the target) would be refused: the agent in
   * it was loaded with code execution off, or none is loaded and this session would load one so
   * (setting pyflight.agent.allowCode / --no-code). Asked before any consent dialog.
   */
  requireCodeExecution(what: string): void {
    const refusal = this.agent.codeRefusal(what);
    if (refusal) throw refusal;
  }

  /** True once the PyFlightProfiler agent runs in the target. */
  get agentLoaded(): boolean {
    return this.agent.result !== undefined;
  }

  /**
   * Loads the agent into the target unless it is there already (asks `confirmAgentLoad` first).
   * Concurrent callers share one load.
   */
  loadAgent(signal?: AbortSignal, progress?: AttachProgress): Promise<void> {
    const interpreter = this.preflightResult?.interpreter;
    if (interpreter?.targetPython && !this.agent.result) {
      return Promise.reject(readerOnlyRefusal(this.pid, interpreter.python, interpreter.targetPython, interpreter.source === 'reader'));
    }
    return this.agent.load(signal, progress);
  }

  /**
   * Sends one request and resolves with its answer: `session.call('memDiff', { interval: 10 }, { signal })`.
   * What the method needs comes from its row in protocol/methods.ts: the agent is loaded first (after
   * consent) for `needs: 'agent'` and for `agentWith` params that are set; a `checkFirst` method is
   * asked before that, so a target that cannot serve the method is told so without loading anything.
   */
  call<M extends CallMethod>(method: M, params: HelperMethods[M]['params'], options: CallOptions = {}): Promise<HelperMethods[M]['result']> {
    return this.send(method, params, options);
  }

  private async send<M extends CallMethod | 'getglobal'>(method: M, params: HelperMethods[M]['params'], options: CallOptions): Promise<HelperMethods[M]['result']> {
    const helper = this.core.readyHelper();
    const spec: MethodSpec = HELPER_METHODS[method];
    const { signal, onWaiting } = options;
    const onProgress = onWaiting
      ? (stage: string, detail?: string | null) => {
        // detail: "<seconds>", or "<seconds> <what comes next>" (memDiff: the middle or the second census)
        if (stage === 'waiting') { const [seconds, next] = (detail ?? '').split(' '); onWaiting(Number(seconds), next); }
        options.onProgress?.(stage, detail);
      }
      : options.onProgress;
    const set = params as Record<string, unknown>;
    try {
      // A param-less method that needs only `open` (test/unit/helperMethods.test.ts checks the table).
      if (spec.checkFirst) await helper.request(spec.checkFirst as 'torchCheck', {}, { signal });
      if (audited(spec, set)?.kind === 'code') this.requireCodeExecution(method);
      if (spec.needs === 'agent' || spec.agentWith?.some((name) => set[name])) await this.loadAgent(signal);
      return await helper.request(method, params, { signal, onProgress });
    } catch (error) {
      throw await this.core.requestFailed(error);
    }
  }

  /**
   * Opens the agent's TCP port for flight-profiler's CLI (Open PyFlight Terminal, only on the user's
   * request): resolves once it listens. The port stays open until `signal` aborts, this session's
   * helper exits or the process does; `closed` settles then.
   */
  async openTerminalPort(signal: AbortSignal): Promise<TerminalPortRecord & { closed: Promise<unknown> }> {
    try {
      await this.loadAgent(signal);
      const helper = this.core.readyHelper();
      let listening: (record: TerminalPortRecord) => void = () => undefined;
      const opened = new Promise<TerminalPortRecord>((resolve) => { listening = resolve; });
      const closed = helper.request('terminalPort', {}, { signal, onRecord: (data) => listening(data as TerminalPortRecord) });
      closed.catch(() => undefined);
      const record = await Promise.race([opened, closed.then(() => {
        throw new PyFlightError(ErrorCode.Internal, `The agent in process ${this.pid} closed its terminal port at once.`);
      })]);
      return { ...record, closed };
    } catch (error) {
      throw await this.core.requestFailed(error);
    }
  }

  /** A module global or class attribute as the agent renders it (never imports a module). */
  async getglobal(params: GetGlobalParams, signal?: AbortSignal): Promise<GetGlobalResult> {
    // A module seen imported stays imported (sys.modules keeps it): its check, a second round trip
    // to the agent, is made once per process, not on every read (a live Values view reads often).
    const imported = params.imported || this.importedModules.has(params.module);
    const result = await this.send('getglobal', imported ? { ...params, imported: true } : params, { signal });
    this.importedModules.add(params.module);
    return result;
  }

  get probes(): Probe[] {
    return this.probeSet.all;
  }

  /**
   * Starts a watch / trace / tt recording. Records arrive on `probe.onDidRecord`; `probe.done`
   * settles when the limit is reached, the probe is stopped, or it fails (bad location, …).
   * `onDidStartProbe` fires before this returns, so listeners (the ProbeStore) see every record.
   */
  startProbe<M extends ProbeMethod>(method: M, params: ProbeParams<M>, options: ProbeStartOptions = {}): Probe<M> {
    return this.probeSet.start(method, params, options);
  }

  /** Stops every active probe and waits until each is turned off. */
  stopAllProbes(): Promise<void> {
    return this.probeSet.stopAll();
  }

  /** The live `gilstat on` of this session, if any. */
  get gilstat(): GilStat | undefined {
    return this.gil.current;
  }

  /**
   * Turns on flight-profiler's GIL statistics (loads the agent first, after consent): one record per
   * interval on `onDidRecord`; `stop()` turns it off in the target; `done` settles when it ends.
   * One per session: a second call returns the live one.
   */
  startGilstat(params: GilstatParams = {}): GilStat {
    return this.gil.start(params);
  }

  /** Why a command cannot run now: the reason the session ended, or its state. */
  private notReady(): PyFlightError {
    return this.endReason ?? new PyFlightError(ErrorCode.HelperProtocol, `Session ${this.pid} is ${this._state}.`, 'Attach again.');
  }

  /**
   * How the target ended (a signal when it could be read: targetDeath.ts), once the session saw it
   * exit; undefined while it runs.
   */
  death: TargetDeath | undefined;

  /**
   * Whether the target is gone now (asked, not waiting for the liveness poll): how it ended, or
   * undefined while it runs. A gone target ends the session as `targetExited`.
   */
  async checkDeath(): Promise<TargetDeath | undefined> {
    if (this.death) return this.death;
    const death = await targetDeath(this.host, this.pid);
    if (death) await this.onTargetExit(death);
    return this.death ?? death;
  }

  private exiting: Promise<void> | undefined;

  private onTargetExit(known?: TargetDeath): Promise<void> {
    this.exiting ??= this.endOnExit(known);
    return this.exiting;
  }

  private async endOnExit(known?: TargetDeath): Promise<void> {
    if (this.isFinal || this._state === 'detaching') return;
    // Read first: a zombie's wait status (the signal) is gone once its parent reaps it.
    const death = known ?? await targetDeath(this.host, this.pid) ?? {};
    if (this.isFinal || (this._state as SessionState) === 'detaching') return; // it may have changed meanwhile
    this.death = death;
    this.endReason = new PyFlightError(ErrorCode.TargetExited, capitalized(deathText(this.pid, death)) + '.', deathHint(death), { ...death });
    this.liveness.stop();
    await this.helper?.stop();
    this.setState('targetExited');
  }

  private onHelperExit(expected: boolean): void {
    this.liveness.stop();
    if (expected || this.isFinal || this._state === 'preflight' || this._state === 'starting' || this._state === 'attaching') return;
    this.endReason = new PyFlightError(ErrorCode.HelperCrashed, `The PyFlight helper for process ${this.pid} stopped unexpectedly.`,
      'See the PyFlight log (PyFlight: Show Log), then attach again.');
    this.setState('helperCrashed');
    this.probesCleanedUp = Promise.all([this.probeSet.turnOffOrphans(), this.gil.turnOffOrphan()]).then(() => undefined);
  }

  /** Stops the helper (which turns off anything it instrumented). Safe to call twice. */
  async detach(): Promise<void> {
    if (this.isFinal) return;
    this.setState('detaching');
    this.liveness.stop();
    await this.helper?.stop();
    this.setState('detached');
  }

  /** For process-exit paths where nothing can be awaited: the helper cleans up and exits by itself. */
  releaseNow(): void {
    this.liveness.stop();
    this.helper?.closeInput();
  }

  get helperPid(): number | undefined {
    return this.helper?.pid;
  }
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
