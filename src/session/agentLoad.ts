import { ErrorCode, PyFlightError } from '../common/errors';
import { capabilityRefusal } from '../preflight/capabilities';
import { Emitter } from '../common/event';
import { agentWhere, type AttachResult } from '../protocol/helper';
import type { SessionCore } from './sessionCore';

export interface AttachProgress {
  (message: string): void;
}

/**
 * Loading the PyFlightProfiler agent into the target, once, on the first command that needs it,
 * after the user's consent (`confirm`; absent = load without asking). It stays until the process exits.
 */
export class AgentLoad {
  /** Set once the agent is loaded (or was found from an earlier attach). */
  result: AttachResult | undefined;
  private loading: Promise<void> | undefined;
  private approved = false;
  private readonly onDidLoadEmitter = new Emitter<AttachResult>();
  /** Fires once the agent runs in the target. */
  readonly onDidLoad = this.onDidLoadEmitter.event;

  constructor(
    private readonly core: SessionCore,
    private readonly timeoutSeconds: number,
    /** Whether the agent may run code in the target (enforced by the agent; fixed when it loads). */
    private readonly allowCode: boolean,
    private readonly confirm: (() => Promise<boolean>) | undefined,
  ) {}

  /**
   * Why code (`what`: eval, console, reload, replay, forceGc, an expression) cannot run: the agent in
   * the target refuses code (it was loaded with code execution off, by this session or another
   * client), or none is loaded and this session would load one so. Undefined when it can run.
   */
  codeRefusal(what: string): PyFlightError | undefined {
    const off = this.result ? this.result.allowCode === false : !this.allowCode;
    if (!off) return undefined;
    const pid = this.core.pid;
    return new PyFlightError(ErrorCode.CodeExecutionOff, this.result
      ? `${what} runs code in process ${pid}, and PyFlight's agent there was loaded with code execution off: it refuses code itself.`
      : `${what} runs code in process ${pid}, and code execution is off (setting pyflight.agent.allowCode, or --no-code).`,
    this.result
      ? 'Observation still works (stacks, watch, trace, profiles, memory, values). To run code, restart the process and '
        + 'attach with pyflight.agent.allowCode on: an agent keeps its policy until the process exits.'
      : 'Observation still works. To run code, turn pyflight.agent.allowCode on (or drop --no-code) before the agent is loaded.');
  }

  /** The user agreed already (e.g. once for every worker of a server): loading will not ask. */
  approve(): void {
    this.approved = true;
  }

  /** Loads the agent unless it is there already (asks first). Concurrent callers share one load. */
  load(signal?: AbortSignal, progress: AttachProgress = () => undefined): Promise<void> {
    if (this.result) return Promise.resolve();
    this.loading ??= this.doLoad(signal, progress).finally(() => { this.loading = undefined; });
    return this.loading;
  }

  private async doLoad(signal: AbortSignal | undefined, progress: AttachProgress): Promise<void> {
    const helper = this.core.readyHelper();
    const pid = this.core.pid;
    // An interpreter whose row of the capability table refuses the agent: said before asking or loading.
    const refused = capabilityRefusal(this.core.capabilities(), 'agent');
    if (refused) throw refused;
    if (this.confirm && !this.approved && !(await this.confirm())) {
      throw new PyFlightError(ErrorCode.Cancelled, `The agent was not loaded into process ${pid}.`,
        'Stacks work without it; watch, trace, time tunnel and values need it.');
    }
    progress(`Loading the PyFlightProfiler agent into ${pid}…`);
    try {
      const result = await helper.request('attach', { pid, timeoutSeconds: this.timeoutSeconds, allowCode: this.allowCode }, {
        signal,
        onProgress: (stage) => progress(stage === 'scanning' ? 'Looking for an existing agent…'
          : stage === 'injecting' ? `Loading the agent into ${pid}…` : 'Connecting to the agent…'),
      });
      this.result = result;
      const stages = Object.entries(result.stagesMs ?? {}).map(([k, v]) => `${k} ${v} ms`).join(', ');
      this.core.log.info(`session ${pid}: agent ${result.reused ? 'found' : 'loaded'} at ${agentWhere(result)}${stages ? ` (${stages})` : ''}`);
      this.onDidLoadEmitter.fire(result);
    } catch (error) {
      throw await this.core.requestFailed(error);
    }
  }
}
