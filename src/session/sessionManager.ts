import { ErrorCode, PyFlightError } from '../common/errors';
import { Emitter } from '../common/event';
import type { Logger } from '../common/logger';
import { realpathSync } from 'node:fs';
import { commandLineFiles, routeSession, type FileMatch, type Route, type RouteReason } from './sessionRouting';
import type { Probe } from './probe';
import { Session, type AttachProgress, type SessionOptions } from './session';
import { WorkerGroup } from './workerGroup';

/** What only the user can answer while a command looks for its session (the editor's Quick Pick and process picker). */
export interface SessionChooser {
  /** One of `candidates` (two or more, or the ones to choose from), `preselected` first and selected; undefined = cancelled. */
  pick(candidates: readonly Session[], placeHolder: string, preselected?: Session): Promise<Session | undefined>;
  /** Nothing is attached: attach to a process the user picks; `purpose` as in `resolve`. */
  attachNew(purpose: string): Promise<Session | undefined>;
}

/** A command's request for the session it acts on. */
export interface ResolveRequest {
  /** What for, in the log ("watch", "stacks"). */
  purpose: string;
  placeHolder: string;
  /** The file the command is about: the session whose process is its wins. */
  file?: string;
}

const ROUTE_WHY: Record<RouteReason, string> = {
  file: 'its process is the file\'s',
  only: 'the only session',
  picked: 'picked by the user',
};

/** All sessions of this window. Views subscribe to `onDidChange`; nothing talks to helpers directly. */
export class SessionManager {
  private readonly sessions = new Map<number, Session>();
  private readonly onDidChangeEmitter = new Emitter<Session | undefined>();
  readonly onDidChange = this.onDidChangeEmitter.event;
  private readonly onDidStartProbeEmitter = new Emitter<{ session: Session; probe: Probe }>();
  /** A probe started in any session, by anyone holding it (editor, CLI engine, chat, diagnosis). */
  readonly onDidStartProbe = this.onDidStartProbeEmitter.event;
  private disposed = false;
  private _chosen: Session | undefined;
  private readonly groups = new Map<number, WorkerGroup>();

  constructor(
    private readonly log: Logger,
    private readonly options: () => Omit<SessionOptions, 'log'>,
    /** The extension's Quick Pick and process picker; without one (CLI, tests) `resolve` never asks. */
    private readonly chooser?: SessionChooser,
  ) {}

  get all(): Session[] {
    return [...this.sessions.values()];
  }

  /** Attached sessions, oldest first (the order pickers offer them in). */
  get live(): Session[] {
    return this.all.filter((s) => s.state === 'ready').sort((a, b) => a.startedAt - b.startedAt);
  }

  /** The session the user last chose (attached, selected in the Sessions view, …), while it is live. */
  get chosen(): Session | undefined {
    return this._chosen?.state === 'ready' && this.sessions.get(this._chosen.pid) === this._chosen ? this._chosen : undefined;
  }

  /**
   * The current session, as the status bar shows it: the chosen one, else the only live one.
   * Commands do not read this directly: they go through the one routing rule (sessionRouting.ts),
   * where it is the first, selected choice of the pick.
   */
  get current(): Session | undefined {
    const live = this.live;
    return this.chosen ?? (live.length === 1 ? live[0] : undefined);
  }

  /** Remembers the user's choice; commands without a file act on it from now on. */
  choose(session: Session): void {
    if (this._chosen === session) return;
    this._chosen = session;
    this.onDidChangeEmitter.fire(session);
  }

  /**
   * The session a command acts on, by the one rule (sessionRouting.ts) applied to the live
   * sessions: for a file, the process that is its (command line, or what the agent imported), then
   * the folder rule; one left: it; else `pick`, the current session first (the pick is remembered).
   */
  async route(options: { file?: string; pick: (candidates: readonly Session[], preselected?: Session) => Promise<Session | undefined> }):
    Promise<Route<Session> | undefined> {
    const route = await routeSession({
      sessions: this.live,
      file: options.file,
      matchFile: (session, file) => this.fileMatch(session, file),
      current: this.current,
      unitOf: (session) => this.groupOf(session),
      pick: options.pick,
    });
    if (route?.reason === 'picked') this.choose(route.session);
    return route;
  }

  /**
   * Whether `file` is the session's process's: its command line runs it, or (agent loaded) it
   * imported it. Only the agent can say what was imported, and asking a read-only session would load
   * it, so a read-only one otherwise claims files under its folders only.
   */
  private async fileMatch(session: Session, file: string): Promise<FileMatch> {
    const facts = session.preflightResult?.facts;
    const runs = facts ? commandLineFiles(facts.argv, facts.cwd) : [];
    const real = (f: string) => { try { return realpathSync(f); } catch { return f; } };
    if (runs.some((f) => f === file || real(f) === real(file))) return 'is';
    if (session.agentLoaded) return (await this.imports(session, file)) ? 'is' : 'no';
    return session.ownsPath(file) ? 'folder' : 'no';
  }

  /**
   * The session a command acts on, by the one rule in sessionRouting.ts: the process whose file it
   * is (command line, what its agent imported), then the folder rule; one left: it; else a pick with
   * the current session first and selected (remembered). With nothing attached, the chooser's
   * process picker opens and the command carries on with the new session — unless `attach` is false
   * (the chat's /diagnose without a pid says how to attach instead).
   */
  async resolve(request: ResolveRequest & { attach?: boolean }): Promise<Session | undefined> {
    if (this.live.length === 0) return request.attach === false ? undefined : this.chooser?.attachNew(request.purpose);
    const chooser = this.chooser;
    const route = await this.route({ file: request.file,
      pick: async (candidates, preselected) => chooser?.pick(candidates, request.placeHolder, preselected) });
    if (!route) return undefined;
    this.log.info(`${request.purpose}: process ${route.session.pid} (${ROUTE_WHY[route.reason]}${request.file ? `, file ${request.file}` : ''})`);
    return route.session;
  }

  private async imports(session: Session, file: string): Promise<boolean> {
    try {
      await session.call('module', { file });
      return true;
    } catch (error) {
      const code = PyFlightError.from(error).code;
      if (code !== ErrorCode.FileNotImported) this.log.debug(`process ${session.pid} cannot say whether it imported ${file}: ${code}`);
      return false;
    }
  }

  /** Attaches to every worker of a pre-fork master as one group (workers forked later join). */
  async attachWorkers(masterPid: number, options: { pollMs?: number } = {}): Promise<WorkerGroup> {
    const existing = this.groups.get(masterPid);
    if (existing) return existing;
    const group = new WorkerGroup(masterPid, this, { log: this.log, pollMs: options.pollMs });
    group.onDidChange(() => this.onDidChangeEmitter.fire(undefined));
    await group.start();
    this.groups.set(masterPid, group);
    this.onDidChangeEmitter.fire(undefined);
    return group;
  }

  /** Stops watching a master for new workers and detaches every worker session of the group. */
  async detachWorkers(group: WorkerGroup): Promise<void> {
    group.dispose();
    this.groups.delete(group.masterPid);
    await Promise.all(group.workers.map((s) => this.detach(s)));
    this.onDidChangeEmitter.fire(undefined);
  }

  /** The worker groups, and the one a session belongs to. */
  get workerGroups(): WorkerGroup[] {
    return [...this.groups.values()];
  }

  groupOf(session: Session): WorkerGroup | undefined {
    return this.workerGroups.find((g) => g.has(session));
  }

  get(pid: number): Session | undefined {
    return this.sessions.get(pid);
  }

  /** Attaches (or returns the live session for this pid). Failed sessions are dropped, not kept. */
  async attach(pid: number, progress?: AttachProgress, signal?: AbortSignal): Promise<Session> {
    const existing = this.sessions.get(pid);
    if (existing && !existing.isFinal) {
      this.choose(existing);
      return existing;
    }
    const session = new Session(pid, { ...this.options(), log: this.log });
    this.sessions.set(pid, session);
    session.onDidChangeState(() => this.onDidChangeEmitter.fire(session));
    session.onDidLoadAgent(() => this.onDidChangeEmitter.fire(session));
    session.onDidStartProbe((probe) => this.onDidStartProbeEmitter.fire({ session, probe }));
    this.onDidChangeEmitter.fire(session);
    try {
      await session.attach(progress, signal);
      // Picking a process to attach to is choosing it.
      this.choose(session);
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
    for (const group of this.groups.values()) group.dispose();
    this.groups.clear();
    await Promise.all(this.all.map((s) => s.detach()));
    this.sessions.clear();
    this.onDidChangeEmitter.dispose();
    this.onDidStartProbeEmitter.dispose();
  }

  /** Synchronous last resort (process exit): every helper turns its probes off and exits. */
  releaseAll(): void {
    for (const session of this.sessions.values()) session.releaseNow();
  }
}
