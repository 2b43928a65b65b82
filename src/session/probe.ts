import { qualifiedName } from '../format/probeText';
import type { StreamSummary } from '../protocol/helper';
import type { ProbeMethod, ProbeParams, ProbeRecord } from '../protocol/methods';
import { AgentStream } from './agentStream';

export type { ProbeMethod } from '../protocol/methods';
export type ProbeState = Probe['state'];

/** Where the instrumented function's code lives, when the starter knows (the editor's CodeLens needs it). */
export interface SourceLocation {
  file: string;
  /** 1-based line of the function's `def`. */
  line: number;
}

/** What a starter knows besides the helper's params. */
export interface ProbeStartOptions {
  source?: SourceLocation;
  /** Set on each worker's probe when one probe was started on all workers of a server. */
  group?: ProbeGroupTag;
}

/** The probes started together on every worker of one master share a tag; views merge them. */
export interface ProbeGroupTag {
  key: string;
  /** "gunicorn master 1234" */
  label: string;
}

let nextProbeId = 1;

/** One live instrumentation (watch / trace / tt recording) inside a target. */
export class Probe<M extends ProbeMethod = ProbeMethod> extends AgentStream<Probe<M>, ProbeRecord<M>, StreamSummary, 'installing'> {
  readonly id = nextProbeId++;
  /** The agent's argument string, known once installed; needed to turn it off after a helper crash. */
  agentArgs: string | undefined;

  constructor(
    pid: number,
    readonly method: M,
    readonly params: ProbeParams<M>,
    readonly source?: SourceLocation,
    readonly group?: ProbeGroupTag,
  ) {
    super(pid, 'installing');
  }

  /**
   * This probe in a list of probes of every kind. Sound: a `Probe<M>` only hands out `M`'s records;
   * TypeScript cannot see that through the emitters' listener sets, hence the one cast here.
   */
  get anyKind(): Probe {
    return this as unknown as Probe;
  }

  /** This probe as its own kind, or undefined when it is another kind (`probe.as('trace')`). */
  as<K extends ProbeMethod>(method: K): Probe<K> | undefined {
    return (this.method as ProbeMethod) === method ? this as unknown as Probe<K> : undefined;
  }

  /** "__main__.Worker.handle" */
  get location(): string {
    return qualifiedName(this.params);
  }

  /** Called by the session. */
  installed(args: string | undefined): void {
    this.agentArgs = args ?? this.agentArgs;
    this.state = 'running';
    this.changed();
  }
}
