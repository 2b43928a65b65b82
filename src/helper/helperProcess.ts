import type { ResultPromise } from 'execa';
import { ErrorCode, PyFlightError, type ErrorInfo } from '../common/errors';
import { Emitter } from '../common/event';
import type { Logger } from '../common/logger';
import type { TargetHost } from '../host/targetHost';
import type { HelperEvent } from '../protocol/helper';
import type { HelperMethods } from '../protocol/methods';
import { helperPythonPath } from './helperPaths';
import { LineDecoder } from './jsonLines';

/**
 * starting → ready → stopping → exited. `ready` means the process is spawned and accepting
 * requests; `exited` is final (pending requests are rejected with HELPER_CRASHED unless we
 * stopped it ourselves).
 */
export type HelperState = 'starting' | 'ready' | 'stopping' | 'exited';

export interface RequestOptions {
  onProgress?: (stage: string, detail?: string | null) => void;
  onRecord?: (data: unknown) => void;
  /** Aborting sends `cancel` to the helper and rejects with CANCELLED. */
  signal?: AbortSignal;
}

interface Pending {
  method: string;
  options: RequestOptions;
  resolve: (data: unknown) => void;
  reject: (error: PyFlightError) => void;
}

/** One long-lived helper child process, run with the target's interpreter. */
export class HelperProcess {
  private child: ResultPromise | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder = new LineDecoder();
  private _state: HelperState = 'starting';
  private readonly onDidExitEmitter = new Emitter<{ code: number | null; signal: string | null; expected: boolean }>();
  readonly onDidExit = this.onDidExitEmitter.event;

  constructor(
    readonly python: string,
    private readonly log: Logger,
    /** Where the target lives: it starts the helper. */
    private readonly host: TargetHost,
  ) {}

  get state(): HelperState {
    return this._state;
  }

  start(): void {
    if (this.child) return;
    const args = ['-u', '-m', 'pyflight_helper'];
    const env = { PYTHONPATH: helperPythonPath(), PYTHONIOENCODING: 'utf-8', PYTHONUNBUFFERED: '1' };
    this.log.info(`spawn: ${this.python} ${args.join(' ')} (PYTHONPATH=${env.PYTHONPATH})`);
    const child = this.host.spawnHelper(this.python, args, env);
    this.child = child;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      for (const line of this.decoder.push(chunk)) this.onLine(line);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      // AUDIT lines (code run in the target or a change to it, python/pyflight_helper/audit.py) are the audit trail: always logged.
      // TRACEBACK lines are the traceback an error message points to ("See the PyFlight log"): logged as errors.
      for (const line of chunk.split('\n')) {
        if (line.trim()) this.log[line.startsWith('AUDIT ') ? 'info' : line.startsWith('TRACEBACK ') ? 'error' : 'debug'](`helper[${child.pid}] ${line}`);
      }
    });
    child.stdin?.on('error', () => undefined); // EPIPE after exit is reported by the exit handler
    void child.then(
      (result) => this.onExit(result.exitCode ?? null, result.signal ?? null),
      () => this.onExit(null, null),
    );
    child.on('error', (error) => this.log.error(`helper spawn failed: ${error.message}`));
    this._state = 'ready';
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  request<M extends keyof HelperMethods>(
    method: M,
    params: HelperMethods[M]['params'],
    options: RequestOptions = {},
  ): Promise<HelperMethods[M]['result']> {
    if (this._state !== 'ready' || !this.child?.stdin) {
      return Promise.reject(
        new PyFlightError(ErrorCode.HelperCrashed, `The PyFlight helper is not running (state: ${this._state}).`,
          'Attach again.'),
      );
    }
    const id = this.nextId++;
    const line = JSON.stringify({ id, method, params });
    this.log.trace(`→ helper ${line}`);
    return new Promise<HelperMethods[M]['result']>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new PyFlightError(ErrorCode.Cancelled, 'Cancelled.'));
        return;
      }
      const onAbort = () => {
        if (this.pending.has(id)) void this.request('cancel', { target: id }).catch(() => undefined);
      };
      // Removed when the request settles: a long diagnosis passes one signal to many requests.
      const settled = () => options.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, { method, options,
        resolve: (d: unknown) => { settled(); (resolve as (d: unknown) => void)(d); },
        reject: (e: unknown) => { settled(); reject(e); } });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.child!.stdin!.write(line + '\n');
    });
  }

  private onLine(line: string): void {
    let message: HelperEvent;
    try {
      message = JSON.parse(line) as HelperEvent;
    } catch {
      message = undefined as unknown as HelperEvent;
    }
    // Something else printed on the helper's stdout (a chatty .pth file, sitecustomize): `null`, `42`
    // or `[]` parse as JSON too, and reading `.id` of null threw in the stream handler.
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.log.warn(`helper wrote a non-JSON line: ${line.slice(0, 200)}`);
      return;
    }
    this.log.trace(`← helper ${line.length > 2000 ? line.slice(0, 2000) + '…' : line}`);
    const pending = message.id === null ? undefined : this.pending.get(message.id);
    if (!pending) {
      if (message.event === 'error') this.log.error(`helper protocol error: ${message.error.message}`);
      return;
    }
    switch (message.event) {
      case 'progress':
        pending.options.onProgress?.(message.data.stage, message.data.detail);
        break;
      case 'record':
        pending.options.onRecord?.(message.data);
        break;
      case 'end':
        this.pending.delete(message.id!);
        pending.resolve(message.data);
        break;
      case 'error':
        this.pending.delete(message.id!);
        pending.reject(toError(message.error));
        break;
    }
  }

  private onExit(code: number | null, signal: string | null): void {
    const expected = this._state === 'stopping';
    const rest = this.decoder.flush();
    if (rest) this.onLine(rest);
    this._state = 'exited';
    this.log.info(`helper exited: code=${code} signal=${signal}${expected ? '' : ' (unexpected)'}`);
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(expected
        ? new PyFlightError(ErrorCode.Cancelled, 'Detached.')
        : new PyFlightError(ErrorCode.HelperCrashed,
          `The PyFlight helper stopped unexpectedly during "${pending.method}" (exit ${code ?? signal}).`,
          'See the PyFlight log (PyFlight: Show Log), then attach again.'));
    }
    this.onDidExitEmitter.fire({ code, signal, expected });
  }

  /** Asks the helper to shut down (it turns off anything it instrumented), then kills it. */
  async stop(graceMs = 2000): Promise<void> {
    const child = this.child;
    if (!child || this._state === 'exited') return;
    if (this._state === 'stopping') {
      await child.catch(() => undefined);
      return;
    }
    this._state = 'stopping';
    try {
      child.stdin?.write(JSON.stringify({ id: 0, method: 'shutdown', params: {} }) + '\n');
      child.stdin?.end();
    } catch {
      // already gone
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await child.catch(() => undefined);
    clearTimeout(timer);
  }

  /**
   * For process-exit paths where nothing can be awaited: closes the helper's stdin. The helper (in
   * its own process group) then turns its probes off and exits by itself; killing it here would
   * leave them installed in the target.
   */
  closeInput(): void {
    if (this.child && this._state !== 'exited') {
      this._state = 'stopping';
      this.child.stdin?.end();
    }
  }
}

function toError(error: ErrorInfo | undefined): PyFlightError {
  if (!error) return new PyFlightError(ErrorCode.HelperProtocol, 'The helper sent an error without details.');
  return new PyFlightError(error.code, error.message, error.hint);
}
