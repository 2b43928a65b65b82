/**
 * The probe kinds (watch, trace, time tunnel recording) in one table: everything the session,
 * the commands, CodeLens, the views, the options parser, the CLI and the status bar need to know
 * about a kind. A new kind is one more row here plus its view. No `vscode` import: the CLI, the
 * engine and the unit tests read it as is.
 */
import { CommandId, ViewId } from '../common/commandIds';
import type { SettingKey } from '../common/settings';
import type { ProbeMethod, ProbeParams } from '../protocol/methods';

export type { ProbeMethod, ProbeParams, ProbeRecord } from '../protocol/methods';

/** What every kind takes: where the function is, and how many records to stop after. */
export interface ProbeLocation {
  module: string;
  class?: string;
  method: string;
  /** A function defined inside `method` (flight-profiler's -nm). */
  nested?: string;
  limit?: number;
}

/** One option of the seed syntax (`-n 10`, `--expr E`, `-e`) and the param it sets. */
export interface OptionSpec {
  key: string;
  kind: 'string' | 'int' | 'number' | 'flag';
}

export interface ProbeKindInfo<M extends ProbeMethod = ProbeMethod> {
  method: M;
  /** What users type and read in logs and the CLI: "watch", "trace", "tt". */
  name: string;
  /** Input box title. */
  title: string;
  /** The view that shows its probes. */
  viewId: string;
  /** Codicon of an active probe. */
  icon: string;
  /** CodeLens while active / after: "watching" / "watch ended". */
  activeText: string;
  endedText: string;
  /** The input box prompt: location, then the options. */
  prompt: string;
  /** The setting that gives `-n` when the editor prefills the options. */
  limitSetting: Extract<SettingKey, `${string}.defaultLimit`>;
  commands: { here: string; ask: string; clear: string };
  /** The seed's options for this kind (parsed and formatted by probes/probeOptions.ts). */
  options: Readonly<Record<string, OptionSpec>>;
  /** Params with nothing but the location and limit (the editor's prefilled options). */
  atLocation(where: ProbeLocation): ProbeParams<M>;
}

const LOCATION_OPTIONS: Record<string, OptionSpec> = {
  '-nm': { key: 'nested', kind: 'string' }, '--nested-method': { key: 'nested', kind: 'string' },
};
const LIMIT_AND_FILTER: Record<string, OptionSpec> = {
  '-n': { key: 'limit', kind: 'int' }, '--limits': { key: 'limit', kind: 'int' },
  '-f': { key: 'filter', kind: 'string' }, '--filter': { key: 'filter', kind: 'string' },
};

export const PROBE_KINDS: { readonly [M in ProbeMethod]: ProbeKindInfo<M> } = {
  watch: {
    method: 'watch',
    name: 'watch',
    title: 'Watch',
    viewId: ViewId.watch,
    icon: 'eye',
    activeText: 'watching',
    endedText: 'watch ended',
    prompt: 'module [class] method, then options: --expr EXPR (what to show; default args,kwargs; also return_obj, target) · '
      + '-f FILTER (e.g. "args[0] > 3") · -e only calls that raise · -n CALLS (stop after) · -x DEPTH 1-4 · -r repr() · -v no truncation',
    limitSetting: 'watch.defaultLimit',
    atLocation: (where) => ({ ...where }),
    commands: { here: CommandId.watchThisFunction, ask: CommandId.watchFunction, clear: CommandId.clearWatches },
    options: {
      ...LOCATION_OPTIONS,
      '--expr': { key: 'expr', kind: 'string' }, '-f': { key: 'filter', kind: 'string' }, '--filter': { key: 'filter', kind: 'string' },
      '-e': { key: 'exceptionOnly', kind: 'flag' }, '--exception': { key: 'exceptionOnly', kind: 'flag' },
      '-x': { key: 'expand', kind: 'int' }, '--expand': { key: 'expand', kind: 'int' },
      '-n': { key: 'limit', kind: 'int' }, '--limits': { key: 'limit', kind: 'int' },
      '-r': { key: 'raw', kind: 'flag' }, '--raw': { key: 'raw', kind: 'flag' }, '-v': { key: 'verbose', kind: 'flag' }, '--verbose': { key: 'verbose', kind: 'flag' },
    },
  },
  trace: {
    method: 'trace',
    name: 'trace',
    title: 'Trace',
    viewId: ViewId.trace,
    icon: 'pulse',
    activeText: 'tracing',
    endedText: 'trace ended',
    prompt: 'module [class] method, then options: -n CALLS (stop after) · -i MS (hide calls cheaper than this, default 0.1) · '
      + '-et MS (only calls slower than this) · -d DEPTH · -f FILTER',
    limitSetting: 'trace.defaultLimit',
    atLocation: (where) => ({ ...where }),
    commands: { here: CommandId.traceThisFunction, ask: CommandId.traceFunction, clear: CommandId.clearTraces },
    options: {
      ...LOCATION_OPTIONS,
      '-i': { key: 'intervalMs', kind: 'number' }, '--interval': { key: 'intervalMs', kind: 'number' },
      '-et': { key: 'entranceTimeMs', kind: 'number' }, '--entrance_time': { key: 'entranceTimeMs', kind: 'number' },
      '-d': { key: 'depth', kind: 'int' }, '--depth': { key: 'depth', kind: 'int' },
      ...LIMIT_AND_FILTER,
    },
  },
  ttRecord: {
    method: 'ttRecord',
    name: 'tt',
    title: 'Record Calls (Time Tunnel)',
    viewId: ViewId.timeTunnel,
    icon: 'history',
    activeText: 'recording calls',
    endedText: 'time tunnel ended',
    prompt: 'module [class] method, then options: -n CALLS (records to keep, default 50) · -f FILTER',
    limitSetting: 'tt.defaultLimit',
    atLocation: (where) => ({ ...where }),
    commands: { here: CommandId.recordThisFunction, ask: CommandId.recordFunction, clear: CommandId.clearRecords },
    options: { ...LOCATION_OPTIONS, ...LIMIT_AND_FILTER },
  },
};

/** Every kind, in the order menus and views list them. */
export const PROBE_METHODS: readonly ProbeMethod[] = ['watch', 'trace', 'ttRecord'];

export function probeKind<M extends ProbeMethod>(method: M): ProbeKindInfo<M> {
  return PROBE_KINDS[method];
}
