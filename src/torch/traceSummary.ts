/**
 * What a `torch profile` Chrome trace says, as plain data: the operators by self CPU time (and CUDA
 * kernel time where the trace has kernels), their input shapes, and which nn.Module (and which own
 * Python function) issued them. Pure: the CLI, the editor and the diagnosis read the same summary.
 *
 * The trace is torch.profiler's `export_chrome_trace` (flight-profiler records with
 * `record_shapes=True, with_stack=True`): `cpu_op` events with `Input Dims`, and `python_function`
 * events for the Python stack, where an `nn.Module: Linear_0` event wraps each module call.
 */

export interface TraceEvent {
  ph?: string;
  cat?: string;
  name?: string;
  tid?: number | string;
  ts?: number;
  dur?: number;
  args?: Record<string, unknown>;
}

export interface TorchOpRow {
  name: string;
  calls: number;
  /** Microseconds in the operator itself, its child operators excluded. */
  selfCpuUs: number;
  cpuUs: number;
  /** Microseconds of GPU kernels launched by it (0 without CUDA). */
  cudaUs: number;
  /** The most frequent input shapes, e.g. `[64, 256], [512, 256], [512]` (most frequent first). */
  shapes: string[];
  /** The nn.Module classes around it, outermost first (`TinyMLP › Linear`), most frequent path. */
  modulePath: string | null;
  /** The innermost Python frame outside torch that issued it: `torch_service.py(24): forward`. */
  caller: PythonFrame | null;
}

export interface PythonFrame {
  file: string;
  line: number;
  function: string;
}

export interface TorchModuleRow {
  /** `TinyMLP` or `TinyMLP › Linear`: the module classes, outermost first. */
  path: string;
  selfCpuUs: number;
  /** Its operators by self CPU time, biggest first. */
  ops: string[];
  /** Where that innermost module's `forward` is, when the trace's Python stack shows it. */
  forward: PythonFrame | null;
}

/** A user's nn.Module subclass and the operators its `forward` issues, through torch's own modules too. */
export interface OwnModuleRow {
  /** The class, e.g. `SlowMixer`. */
  class: string;
  /** Self CPU time of the operators whose innermost own module it is. */
  selfCpuUs: number;
  ops: string[];
  /** Its `forward` (the first one seen), as the trace names the file. */
  forward: PythonFrame;
}

export interface TorchTraceSummary {
  ops: TorchOpRow[];
  modules: TorchModuleRow[];
  /** The user's module classes by the operator time their forward issues (ops of torch's modules inside count for them), biggest first. */
  ownModules: OwnModuleRow[];
  /** Own-code Python functions (outside torch) that issued operators, by self CPU time under them. */
  callers: Array<PythonFrame & { selfCpuUs: number }>;
  totalSelfCpuUs: number;
  totalCudaUs: number;
  /** The trace has Python stack events (with_stack); without them modules and callers are empty. */
  withStack: boolean;
  opEvents: number;
}

const PY_FRAME = /^(.*\.py)\((\d+)\): (.+)$/;
const MODULE = /^nn\.Module: (.+?)(?:_\d+)?$/;
const KERNEL_CATS = new Set(['kernel', 'gpu_memcpy', 'gpu_memset']);

export function parsePythonFrame(name: string): PythonFrame | null {
  const m = PY_FRAME.exec(name);
  return m ? { file: m[1], line: Number(m[2]), function: m[3] } : null;
}

/** torch's own files, flight-profiler's wrapper and built-ins are not where the user looks. */
function isOwnFrame(frame: PythonFrame): boolean {
  return !/^(torch|flight_profiler|torchvision|torchaudio)\//.test(frame.file) && !frame.file.includes('/site-packages/');
}

function bump<K>(map: Map<K, number>, key: K, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function topKeys<K>(map: Map<K, number>, n: number): K[] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k]) => k);
}

function shapeText(dims: unknown): string | null {
  if (!Array.isArray(dims)) return null;
  const parts = dims.filter((d) => Array.isArray(d) && d.length).map((d) => `[${(d as unknown[]).join(', ')}]`);
  return parts.length ? parts.join(', ') : null;
}

interface Acc {
  row: TorchOpRow;
  shapes: Map<string, number>;
  paths: Map<string, number>;
  callers: Map<string, number>;
}

interface Open {
  ev: TraceEvent;
  end: number;
  childUs: number;
  depth: number;
}

/** One operator call with its context: what the summary aggregates and the timeline draws. */
export interface PlacedOp {
  name: string;
  tid: string;
  startUs: number;
  durUs: number;
  selfUs: number;
  /** Nesting among operators (0 = called from Python). */
  depth: number;
  cudaUs: number;
  shape: string | null;
  /** nn.Module classes around it, outermost first. */
  modules: string[];
  /** The innermost module's `forward` frame (torch's or yours). */
  forward: PythonFrame | null;
  /** The innermost Python frame outside torch. */
  caller: PythonFrame | null;
  /** The innermost module around it whose `forward` is the user's code (not torch's `Linear`): whose forward issued it. */
  ownModule: { name: string; forward: PythonFrame } | null;
}

export interface PlacedTrace {
  ops: PlacedOp[];
  totalCudaUs: number;
  withStack: boolean;
}

function traceEvents(trace: unknown): TraceEvent[] {
  const all: TraceEvent[] = Array.isArray(trace) ? trace
    : Array.isArray((trace as { traceEvents?: unknown })?.traceEvents) ? (trace as { traceEvents: TraceEvent[] }).traceEvents : [];
  return all.filter((e) => e && e.ph === 'X' && typeof e.ts === 'number' && typeof e.dur === 'number');
}

/** Every operator call of the trace with its self time, nesting depth and Python context. */
export function placeOperators(trace: unknown): PlacedTrace {
  const complete = traceEvents(trace);
  const ops = complete.filter((e) => e.cat === 'cpu_op');
  const py = complete.filter((e) => e.cat === 'python_function');
  const kernelUsById = new Map<unknown, number>();
  let totalCudaUs = 0;
  for (const k of complete.filter((e) => KERNEL_CATS.has(e.cat ?? ''))) {
    bump(kernelUsById, k.args?.['External id'], k.dur!);
    totalCudaUs += k.dur!;
  }
  const placed: PlacedOp[] = [];
  for (const tid of new Set(ops.map((e) => String(e.tid)))) {
    // One sweep per thread over Python frames and operators by start time: a stack of open Python
    // frames gives each operator its Python context; a stack of open operators gives its self time.
    const items = [...py.filter((e) => String(e.tid) === tid).map((ev) => ({ ev, isPy: true })),
      ...ops.filter((e) => String(e.tid) === tid).map((ev) => ({ ev, isPy: false }))]
      .sort((a, b) => a.ev.ts! - b.ev.ts! || (a.isPy === b.isPy ? b.ev.dur! - a.ev.dur! : a.isPy ? -1 : 1));
    const pyStack: Open[] = [];
    const opStack: Open[] = [];
    const onThread: Array<{ open: Open; pyChain: TraceEvent[] }> = [];
    for (const { ev, isPy } of items) {
      const start = ev.ts!;
      while (pyStack.length && pyStack[pyStack.length - 1].end <= start) pyStack.pop();
      if (isPy) {
        pyStack.push({ ev, end: start + ev.dur!, childUs: 0, depth: pyStack.length });
        continue;
      }
      while (opStack.length && opStack[opStack.length - 1].end <= start) opStack.pop();
      const open = { ev, end: start + ev.dur!, childUs: 0, depth: opStack.length };
      if (opStack.length) opStack[opStack.length - 1].childUs += ev.dur!;
      opStack.push(open);
      onThread.push({ open, pyChain: pyStack.map((p) => p.ev) });
    }
    for (const { open, pyChain } of onThread) {
      const ev = open.ev;
      const modules: string[] = [];
      let forward: PythonFrame | null = null;
      let caller: PythonFrame | null = null;
      let ownModule: PlacedOp['ownModule'] = null;
      for (let i = 0; i < pyChain.length; i++) {
        const m = MODULE.exec(pyChain[i].name ?? '');
        if (m) {
          modules.push(m[1]);
          forward = null;
          for (let j = i + 1; j < pyChain.length && !forward; j++) {
            const f = parsePythonFrame(pyChain[j].name ?? '');
            if (f && f.function === 'forward') forward = f;
          }
          if (forward && isOwnFrame(forward)) ownModule = { name: m[1], forward };
          continue;
        }
        const frame = parsePythonFrame(pyChain[i].name ?? '');
        if (frame && isOwnFrame(frame)) caller = frame;
      }
      placed.push({ name: ev.name ?? '?', tid, startUs: ev.ts!, durUs: ev.dur!, selfUs: Math.max(0, ev.dur! - open.childUs), depth: open.depth,
        cudaUs: kernelUsById.get(ev.args?.['External id']) ?? 0, shape: shapeText(ev.args?.['Input Dims']), modules, forward, caller, ownModule });
    }
  }
  return { ops: placed, totalCudaUs, withStack: py.length > 0 };
}

export function summarizeTrace(trace: unknown, limit = 15): TorchTraceSummary {
  const { ops, totalCudaUs, withStack } = placeOperators(trace);
  const byOp = new Map<string, Acc>();
  const byModule = new Map<string, { selfCpuUs: number; ops: Map<string, number>; forward: PythonFrame | null }>();
  const byCaller = new Map<string, PythonFrame & { selfCpuUs: number }>();
  const byOwn = new Map<string, { selfCpuUs: number; ops: Map<string, number>; forward: PythonFrame }>();
  let totalSelfCpuUs = 0;
  const callerKey = (f: PythonFrame) => `${f.file}:${f.line}:${f.function}`;
  for (const op of ops) {
    const { name, selfUs: self, caller } = op;
    totalSelfCpuUs += self;
    let acc = byOp.get(name);
    if (!acc) {
      acc = { row: { name, calls: 0, selfCpuUs: 0, cpuUs: 0, cudaUs: 0, shapes: [], modulePath: null, caller: null },
        shapes: new Map(), paths: new Map(), callers: new Map() };
      byOp.set(name, acc);
    }
    acc.row.calls += 1;
    acc.row.selfCpuUs += self;
    acc.row.cpuUs += op.durUs;
    acc.row.cudaUs += op.cudaUs;
    if (op.shape) bump(acc.shapes, op.shape, 1);
    if (op.modules.length) {
      const path = op.modules.join(' › ');
      bump(acc.paths, path, self);
      let mod = byModule.get(path);
      if (!mod) byModule.set(path, mod = { selfCpuUs: 0, ops: new Map(), forward: op.forward });
      mod.selfCpuUs += self;
      bump(mod.ops, name, self);
    }
    if (op.ownModule) {
      let own = byOwn.get(op.ownModule.name);
      if (!own) byOwn.set(op.ownModule.name, own = { selfCpuUs: 0, ops: new Map(), forward: op.ownModule.forward });
      own.selfCpuUs += self;
      bump(own.ops, name, self);
    }
    if (caller) {
      const key = callerKey(caller);
      bump(acc.callers, key, self);
      const c = byCaller.get(key) ?? { ...caller, selfCpuUs: 0 };
      c.selfCpuUs += self;
      byCaller.set(key, c);
      if (!acc.row.caller || (acc.callers.get(key) ?? 0) >= (acc.callers.get(callerKey(acc.row.caller)) ?? 0)) acc.row.caller = caller;
    }
  }

  const rows = [...byOp.values()].map((a) => ({ ...a.row, shapes: topKeys(a.shapes, 3), modulePath: topKeys(a.paths, 1)[0] ?? null }));
  rows.sort((a, b) => (b.cudaUs - a.cudaUs) || (b.selfCpuUs - a.selfCpuUs));
  if (!totalCudaUs) rows.sort((a, b) => b.selfCpuUs - a.selfCpuUs);
  const modules = [...byModule.entries()].map(([path, m]) => ({ path, selfCpuUs: m.selfCpuUs, ops: topKeys(m.ops, 5), forward: m.forward }))
    .sort((a, b) => b.selfCpuUs - a.selfCpuUs);
  const ownModules = [...byOwn.entries()].map(([cls, m]) => ({ class: cls, selfCpuUs: m.selfCpuUs, ops: topKeys(m.ops, 5), forward: m.forward }))
    .sort((a, b) => b.selfCpuUs - a.selfCpuUs);
  return {
    ops: rows.slice(0, limit), modules, ownModules, callers: [...byCaller.values()].sort((a, b) => b.selfCpuUs - a.selfCpuUs),
    totalSelfCpuUs, totalCudaUs, withStack, opEvents: ops.length,
  };
}
