/**
 * Extension ↔ helper protocol (JSON lines on stdio), mirrored by python/pyflight_helper.
 * Request: {id, method, params}. Events: zero or more `progress`/`record`, then exactly one `end`
 * (with the result) or `error` (with a stable code). See docs/helper-protocol.md.
 */
import type { ErrorInfo } from '../common/errors';

export interface HelperRequest<M extends keyof HelperMethods = keyof HelperMethods> {
  id: number;
  method: M;
  params: HelperMethods[M]['params'];
}

export type HelperEvent =
  | { id: number | null; event: 'progress'; data: { stage: string; detail?: string | null } }
  | { id: number | null; event: 'record'; data: unknown }
  | { id: number | null; event: 'end'; data: unknown }
  | { id: number | null; event: 'error'; error: ErrorInfo };

export interface HelloResult {
  helperVersion: string;
  helperPid: number;
  python: {
    executable: string;
    realExecutable: string;
    version: string;
    implementation: string;
    prefix: string;
    basePrefix: string;
    isVenv: boolean;
  };
  flightProfiler: { installed: boolean; version?: string; location?: string; error?: string };
  platform: string;
  machine: string;
}

export interface AttachResult {
  pid: number;
  port: number;
  /** True when an agent from an earlier attach was found and reused (nothing was injected). */
  reused: boolean;
}

export interface StackFrame {
  function: string;
  file: string | null;
  line: number | null;
  kind: 'python' | 'native';
  library?: string;
}

export interface ThreadStack {
  tid: number;
  name: string;
  daemon: boolean | null;
  holdsGil: boolean;
  gcCollecting: boolean;
  /** Most recent call first. */
  frames: StackFrame[];
  nativeFrames?: StackFrame[];
}

export interface AsyncTask {
  thread: string;
  tid: number;
  name: string;
  state: string | null;
  coroutine: string | null;
  frames: StackFrame[];
}

export interface StackResult {
  pid: number;
  capturedAt: number;
  threads: ThreadStack[];
  hiddenAgentThreads: number;
  native: boolean;
  asyncTasks?: AsyncTask[];
}

export interface ModuleResult {
  file: string;
  module: string;
}

/** Every method: its params and the data of its `end` event. */
export interface HelperMethods {
  hello: { params: Record<string, never>; result: HelloResult };
  attach: { params: { pid: number; timeoutSeconds?: number }; result: AttachResult };
  stack: { params: { native?: boolean; async?: boolean; includeAgentThreads?: boolean }; result: StackResult };
  module: { params: { file: string }; result: ModuleResult };
  cancel: { params: { target: number }; result: { cancelled: boolean } };
  shutdown: { params: Record<string, never>; result: Record<string, never> };
}
