/**
 * The MCP server's sessions: one per process a tool was called on, attached on the first call
 * (read-only: loads nothing) and kept for the next ones, detached when the server stops. Calls for
 * the same pid that arrive together share one attach. A session whose target exited is dropped.
 */
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { ensureReader } from '../preflight/readerVenv';
import { Session, type SessionOptions } from '../session/session';
import type { McpConsent } from './consent';

export class McpSessions {
  private readonly sessions = new Map<number, Promise<Session>>();
  /** Every session made, for the synchronous last resort. */
  private readonly made = new Set<Session>();
  private disposed = false;

  constructor(
    private readonly log: Logger,
    private readonly consent: McpConsent,
  ) {}

  private options(): SessionOptions {
    return {
      log: this.log,
      livenessIntervalMs: 1000,
      // The agent's own policy: without --allow-code it is loaded with code execution off and refuses code itself.
      allowCode: this.consent.code,
      // No flight-profiler where the process runs: read it from outside with PyFlight's reader (built once, logged).
      readerFor: async (session, python, signal) => {
        this.log.warn(`flight-profiler is not in the environment ${session.label} runs in (${python}): reading it from outside with PyFlight's reader environment of that interpreter.`);
        return ensureReader(python, this.log, () => undefined, signal);
      },
      // The server's flags are the consent; a tool that would load the agent without them is refused
      // before it runs (server.ts), and this refuses any load that slipped past.
      confirmAgentLoad: async (session) => {
        if (!this.consent.agent) return false;
        this.log.warn(`loading the PyFlightProfiler agent into ${session.label}${this.consent.code ? '' : ' with code execution off'}; it stays until the process exits.`);
        return true;
      },
    };
  }

  /** The session for `pid`, attached if it was not. `signal` ends the wait, not a shared attach. */
  async get(pid: number, signal: AbortSignal): Promise<Session> {
    if (this.disposed) throw new PyFlightError(ErrorCode.Cancelled, 'The PyFlight MCP server is stopping.');
    let pending = this.sessions.get(pid);
    if (!pending) {
      const session = new Session(pid, this.options());
      this.made.add(session);
      pending = session.attach().then(() => session);
      this.sessions.set(pid, pending);
      session.onDidChangeState(() => {
        if (!session.isFinal) return;
        this.made.delete(session);
        if (this.sessions.get(pid) === pending) this.sessions.delete(pid);
      });
      pending.catch(() => {
        if (this.sessions.get(pid) === pending) this.sessions.delete(pid);
      });
    }
    return abortable(pending, signal);
  }

  /** Detaches every session: each helper turns off what it instrumented and exits. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((p) => p.then((s) => s.detach(), () => undefined)));
  }

  /** Synchronous last resort (the process exits now): every helper cleans up and exits by itself. */
  releaseNow(): void {
    for (const session of this.made) session.releaseNow();
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const cancelled = () => new PyFlightError(ErrorCode.Cancelled, 'Cancelled.');
