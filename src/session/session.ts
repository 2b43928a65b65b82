import { promises as fs } from 'node:fs';
import { ErrorCode, PyFlightError } from '../common/errors';
import { Emitter } from '../common/event';
import type { Logger } from '../common/logger';
import { HelperProcess } from '../helper/helperProcess';
import { assertProfilerInstalled } from '../preflight/installProfiler';
import { preflight, type PreflightResult } from '../preflight/preflight';
import type { AttachResult, HelloResult, ModuleResult, StackResult } from '../protocol/helper';

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
}

export interface AttachProgress {
  (message: string): void;
}

/** One attached process: owns its helper, exposes typed commands and state events. */
export class Session {
  private _state: SessionState = 'preflight';
  private helper: HelperProcess | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private readonly onDidChangeStateEmitter = new Emitter<SessionState>();
  readonly onDidChangeState = this.onDidChangeStateEmitter.event;
  preflightResult: PreflightResult | undefined;
  hello: HelloResult | undefined;
  attachResult: AttachResult | undefined;
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
      progress(`Injecting the PyFlightProfiler agent into ${this.pid}…`);
      this.attachResult = await this.helper.request('attach', {
        pid: this.pid,
        timeoutSeconds: this.options.attachTimeoutSeconds ?? 30,
      }, {
        signal,
        onProgress: (stage) => progress(stage === 'scanning' ? 'Looking for an existing agent…'
          : stage === 'injecting' ? `Injecting the agent into ${this.pid}…` : 'Connecting to the agent…'),
      });
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

  stack(params: { native?: boolean; async?: boolean; includeAgentThreads?: boolean }, signal?: AbortSignal): Promise<StackResult> {
    return this.run('stack', params, signal);
  }

  module(file: string, signal?: AbortSignal): Promise<ModuleResult> {
    return this.run('module', { file }, signal);
  }

  private async run<M extends 'stack' | 'module'>(method: M, params: M extends 'stack' ? { native?: boolean; async?: boolean; includeAgentThreads?: boolean } : { file: string }, signal?: AbortSignal) {
    if (this._state !== 'ready' || !this.helper) {
      throw this.endReason ?? new PyFlightError(ErrorCode.HelperProtocol, `Session ${this.pid} is ${this._state}.`, 'Attach again.');
    }
    try {
      // The cast keeps one code path for every method; params are typed by the public wrappers above.
      return await this.helper.request(method, params as never, { signal });
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

  /** For process-exit paths where nothing can be awaited. */
  killNow(): void {
    this.clearLiveness();
    this.helper?.kill();
  }

  get helperPid(): number | undefined {
    return this.helper?.pid;
  }
}

async function isAlive(pid: number): Promise<boolean> {
  if (process.platform === 'linux') {
    try {
      const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
