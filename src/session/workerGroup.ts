import { PyFlightError } from '../common/errors';
import { Emitter } from '../common/event';
import type { Logger } from '../common/logger';
import { listProcesses, noWorkersError, serverWorkers } from '../processes/processLister';
import type { ProbeParams, ProbeRecord } from '../protocol/methods';
import type { Probe, ProbeGroupTag, ProbeMethod, ProbeStartOptions } from './probe';
import type { Session } from './session';

/** What a group needs from the SessionManager (kept narrow so the group is easy to test). */
export interface SessionSource {
  attach(pid: number): Promise<Session>;
}

export interface GroupRecord<M extends ProbeMethod> {
  pid: number;
  record: ProbeRecord<M>;
}

/**
 * One probe on every worker of a group, records merged with the worker's pid. Workers that join
 * later get the probe too, until it is stopped or every worker's probe has ended by itself.
 */
export class GroupProbe<M extends ProbeMethod = ProbeMethod> {
  readonly probes = new Map<number, Probe<M>>();
  private readonly recordEmitter = new Emitter<GroupRecord<M>>();
  readonly onDidRecord = this.recordEmitter.event;
  private readonly changeEmitter = new Emitter<GroupProbe<M>>();
  readonly onDidChange = this.changeEmitter.event;
  private stopped = false;
  private settle!: () => void;
  /** Settles when stopped (and every worker's probe turned off) or when every probe has ended. */
  readonly done = new Promise<void>((resolve) => { this.settle = resolve; });

  constructor(
    readonly method: M,
    readonly params: ProbeParams<M>,
    readonly options: ProbeStartOptions & { group: ProbeGroupTag },
  ) {}

  get isActive(): boolean {
    return !this.stopped && [...this.probes.values()].some((p) => p.isActive);
  }

  get count(): number {
    return [...this.probes.values()].reduce((sum, p) => sum + p.count, 0);
  }

  /** Starts the probe on one more worker (no-op once stopped or for a worker that has it). */
  add(session: Session): Probe<M> | undefined {
    if (this.stopped || this.probes.has(session.pid)) return undefined;
    const probe = session.startProbe(this.method, this.params, this.options);
    this.probes.set(session.pid, probe);
    probe.onDidRecord((record) => this.recordEmitter.fire({ pid: session.pid, record }));
    probe.onDidChange(() => this.changeEmitter.fire(this));
    void probe.done.catch(() => undefined).finally(() => this.checkDone());
    this.changeEmitter.fire(this);
    return probe;
  }

  stop(): void {
    this.stopped = true;
    for (const probe of this.probes.values()) probe.stop();
    this.checkDone();
  }

  private checkDone(): void {
    if ([...this.probes.values()].some((p) => p.isActive)) return;
    if (!this.stopped && this.probes.size === 0) return;
    this.stopped = true;
    void Promise.allSettled([...this.probes.values()].map((p) => p.done)).then(() => this.settle());
  }
}

let groupProbeIds = 0;

/**
 * The workers of a pre-fork master as one unit: a session per worker (read-only until a command
 * needs the agent), workers the master forks later join by themselves (polled), and probes started
 * on the group run on every worker.
 */
export class WorkerGroup {
  private readonly members = new Map<number, Session>();
  private readonly probes = new Set<GroupProbe>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly changeEmitter = new Emitter<WorkerGroup>();
  readonly onDidChange = this.changeEmitter.event;
  private disposed = false;
  private agentApproved = false;
  /** Why the last worker that could not be attached could not. */
  private attachFailure: PyFlightError | undefined;

  constructor(
    readonly masterPid: number,
    private readonly sessions: SessionSource,
    private readonly options: { log: Logger; pollMs?: number; listWorkers?: (masterPid: number) => Promise<number[]> },
  ) {}

  /** The server, as the lister tells it (read at start: a uvicorn worker's command line is multiprocessing's). */
  private masterKind: string | undefined;

  /** "gunicorn master 1234": the kind as the lister tells it, else from a worker's command line. */
  get label(): string {
    const argv = this.workers[0]?.preflightResult?.facts.argv ?? [];
    const kind = this.masterKind ?? argv.map((a) => /(gunicorn|uvicorn|celery)/.exec(a)?.[1]).find(Boolean) ?? 'server';
    return `${kind} master ${this.masterPid}`;
  }

  /** Live worker sessions, by pid. */
  get workers(): Session[] {
    return [...this.members.values()].filter((s) => !s.isFinal).sort((a, b) => a.pid - b.pid);
  }

  has(session: Session): boolean {
    return this.members.get(session.pid) === session;
  }

  /** Attaches to every current worker; fails only when none can be attached. */
  async start(): Promise<void> {
    // The lister's rule (a reloader is told by its child's environment, not by a command line).
    this.masterKind = (await listProcesses({ cpuSampleMs: 0, mainFrames: false })).find((p) => p.pid === this.masterPid)?.server?.kind;
    await this.poll();
    if (!this.members.size) throw this.attachFailure ?? noWorkersError(this.masterPid, await listProcesses({ cpuSampleMs: 0 }));
    const interval = this.options.pollMs ?? 2000;
    if (interval > 0) {
      this.timer = setInterval(() => { void this.poll(); }, interval);
      this.timer.unref();
    }
  }

  /** The user agreed once to load the agent into every worker, later ones included. */
  approveAgentLoad(): void {
    this.agentApproved = true;
    for (const session of this.members.values()) session.approveAgentLoad();
  }

  /** Starts one probe on every worker, and on each worker that joins later. */
  startProbe<M extends ProbeMethod>(method: M, params: ProbeParams<M>, options: ProbeStartOptions = {}): GroupProbe<M> {
    const group = new GroupProbe(method, params, { ...options, group: { key: `workers-${this.masterPid}-${++groupProbeIds}`, label: this.label } });
    this.probes.add(group as unknown as GroupProbe);
    void group.done.then(() => this.probes.delete(group as unknown as GroupProbe));
    for (const session of this.workers) if (session.state === 'ready') group.add(session);
    return group;
  }

  /** Looks for new workers now (the timer does it every pollMs). */
  poll(): Promise<void> {
    this.polling ??= this.doPoll().finally(() => { this.polling = undefined; });
    return this.polling;
  }

  private async doPoll(): Promise<void> {
    if (this.disposed) return;
    const list = this.options.listWorkers ?? ((pid: number) => serverWorkers(pid));
    let pids: number[];
    try {
      pids = await list(this.masterPid);
    } catch (error) {
      this.options.log.warn(`workers of ${this.masterPid}: ${PyFlightError.from(error).message}`);
      return;
    }
    const fresh = pids.filter((pid) => !this.members.has(pid) || this.members.get(pid)!.isFinal);
    await Promise.all(fresh.map(async (pid) => {
      try {
        const session = await this.sessions.attach(pid);
        if (this.disposed) return;
        this.members.set(pid, session);
        if (this.agentApproved) session.approveAgentLoad();
        session.onDidChangeState(() => this.changeEmitter.fire(this));
        this.options.log.info(`workers of ${this.masterPid}: worker ${pid} joined`);
        for (const probe of this.probes) probe.add(session);
      } catch (error) {
        this.attachFailure = PyFlightError.from(error);
        this.options.log.warn(`workers of ${this.masterPid}: cannot attach to worker ${pid}: ${this.attachFailure.message}`);
      }
    }));
    if (fresh.length) this.changeEmitter.fire(this);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    for (const probe of this.probes) probe.stop();
    this.changeEmitter.dispose();
  }
}
