import { Emitter } from '../common/event';
import type { Logger } from '../common/logger';
import { Session, type AttachProgress, type SessionOptions } from './session';

/** All sessions of this window. Views subscribe to `onDidChange`; nothing talks to helpers directly. */
export class SessionManager {
  private readonly sessions = new Map<number, Session>();
  private readonly onDidChangeEmitter = new Emitter<Session | undefined>();
  readonly onDidChange = this.onDidChangeEmitter.event;
  private disposed = false;

  constructor(
    private readonly log: Logger,
    private readonly options: () => Omit<SessionOptions, 'log'>,
  ) {}

  get all(): Session[] {
    return [...this.sessions.values()];
  }

  /** The session a command acts on when none is given: the most recently attached live one. */
  get active(): Session | undefined {
    return this.all.filter((s) => s.state === 'ready').sort((a, b) => b.startedAt - a.startedAt)[0];
  }

  get(pid: number): Session | undefined {
    return this.sessions.get(pid);
  }

  /** Attaches (or returns the live session for this pid). Failed sessions are dropped, not kept. */
  async attach(pid: number, progress?: AttachProgress, signal?: AbortSignal): Promise<Session> {
    const existing = this.sessions.get(pid);
    if (existing && !existing.isFinal) return existing;
    const session = new Session(pid, { ...this.options(), log: this.log });
    this.sessions.set(pid, session);
    session.onDidChangeState(() => this.onDidChangeEmitter.fire(session));
    session.onDidLoadAgent(() => this.onDidChangeEmitter.fire(session));
    this.onDidChangeEmitter.fire(session);
    try {
      await session.attach(progress, signal);
      return session;
    } catch (error) {
      this.sessions.delete(pid);
      this.onDidChangeEmitter.fire(undefined);
      throw error;
    }
  }

  async detach(session: Session): Promise<void> {
    await session.detach();
    this.remove(session);
  }

  /** Forgets an ended session (the view keeps ended ones until the user removes them). */
  remove(session: Session): void {
    if (this.sessions.get(session.pid) === session) this.sessions.delete(session.pid);
    this.onDidChangeEmitter.fire(undefined);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(this.all.map((s) => s.detach()));
    this.sessions.clear();
    this.onDidChangeEmitter.dispose();
  }

  /** Synchronous last resort (process exit): every helper turns its probes off and exits. */
  releaseAll(): void {
    for (const session of this.sessions.values()) session.releaseNow();
  }
}
