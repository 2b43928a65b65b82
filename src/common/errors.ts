/**
 * Stable error codes shared by the helper, the engine, the CLI and the UI. The helper emits the same
 * strings (python/pyflight_helper/errors.py); the UI maps each code to one message with a next step.
 */
export const ErrorCode = {
  PidNotFound: 'PID_NOT_FOUND',
  NotPython: 'NOT_PYTHON',
  PermissionDenied: 'PERMISSION_DENIED',
  ProfilerNotInstalled: 'PROFILER_NOT_INSTALLED',
  VersionMismatch: 'VERSION_MISMATCH',
  InterpreterNotFound: 'INTERPRETER_NOT_FOUND',
  UnsupportedPlatform: 'UNSUPPORTED_PLATFORM',
  AttachFailed: 'ATTACH_FAILED',
  AttachTimeout: 'ATTACH_TIMEOUT',
  NoFreePort: 'NO_FREE_PORT',
  TargetExited: 'TARGET_EXITED',
  BadLocation: 'BAD_LOCATION',
  BadExpression: 'BAD_EXPRESSION',
  BadArgument: 'BAD_ARGUMENT',
  FileNotImported: 'FILE_NOT_IMPORTED',
  HelperCrashed: 'HELPER_CRASHED',
  HelperProtocol: 'HELPER_PROTOCOL',
  Cancelled: 'CANCELLED',
  Internal: 'INTERNAL',
  TorchMissing: 'TORCH_MISSING',
  TorchNoCuda: 'TORCH_NO_CUDA',
  /** getglobal / vmtool: the module is not imported in the target (PyFlight never imports one). */
  ModuleNotFound: 'MODULE_NOT_FOUND',
  ClassNotFound: 'CLASS_NOT_FOUND',
  /** getglobal: no such module global or class attribute. */
  NameNotFound: 'NAME_NOT_FOUND',
  /** vmtool getInstances: the class has no live instance. */
  NoInstances: 'NO_INSTANCES',
  ReloadRefused: 'RELOAD_REFUSED',
  /** The agent was loaded with code execution off (pyflight.agent.allowCode false) and refuses it itself. */
  CodeExecutionOff: 'CODE_EXECUTION_OFF',
  /** The caller may not load the agent (an MCP server started without --allow-agent) and this needs it. */
  AgentNotAllowed: 'AGENT_NOT_ALLOWED',
  /** The agent in the process was loaded by another PyFlight version and lacks what this one needs. */
  AgentOutdated: 'AGENT_OUTDATED',
  /** The target's interpreter's row of the capability table (capabilities.json) refuses this feature. */
  InterpreterUnsupported: 'INTERPRETER_UNSUPPORTED',
  WriteFailed: 'WRITE_FAILED',
  /** A heap census stopped at its time bound: the message names the stage (first/second census) and the percent. */
  CensusStopped: 'CENSUS_STOPPED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What every failure looks like at a boundary: a stable code, one sentence, one next step. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export class PyFlightError extends Error implements ErrorInfo {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    /** Machine-readable context for the UI (e.g. which interpreter to install into). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'PyFlightError';
  }

  toJSON(): ErrorInfo {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}) };
  }

  static from(error: unknown): PyFlightError {
    if (error instanceof PyFlightError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new PyFlightError(ErrorCode.Internal, message, 'See the PyFlight log for details.');
  }
}
