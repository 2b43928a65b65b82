import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { HelperProcess } from '../helper/helperProcess';

/** What the parts of a session (its probes, its gilstat) use of the session that holds them. */
import type { CapabilityReport } from '../preflight/capabilities';

export interface SessionCore {
  readonly pid: number;
  readonly log: Logger;
  /** The helper while the session is ready; otherwise throws `whyNotReady()`. */
  readyHelper(): HelperProcess;
  /** Why a request cannot be sent now (the reason the session ended, or its state); undefined while ready. */
  whyNotReady(): PyFlightError | undefined;
  /** The target's row of the capability table (from `hello`), once the helper answered. */
  capabilities(): CapabilityReport | undefined;
  /** Loads the agent once, after consent (see Session.loadAgent). */
  loadAgent(signal?: AbortSignal): Promise<void>;
  /** A request failed: when the target is gone the session ends as `targetExited`. Gives the error to throw. */
  requestFailed(error: unknown): Promise<PyFlightError>;
  /**
   * After a helper crash: a fresh helper attached to the target (the agent is found again, nothing
   * loaded) runs `cleanUp`, then stops. Logs and swallows a failure: `what` names it.
   */
  withFreshHelper(what: string, cleanUp: (helper: HelperProcess) => Promise<void>): Promise<void>;
}

/** The target is gone: the error codes after which the session ends as `targetExited`. */
export function targetIsGone(error: PyFlightError): boolean {
  return error.code === ErrorCode.TargetExited || error.code === ErrorCode.PidNotFound;
}
