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

export interface TorchTraceSummary {
  ops: TorchOpRow[];
  modules: TorchModuleRow[];
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

interface Placed {
  ev: TraceEvent;
  end: number;
  childUs: number;
}

export function summarizeTrace(trace: unknown, limit = 15): TorchTraceSummary {
  const all: TraceEvent[] = Array.isArray(trace) ? trace
    : Array.isArray((trace as { traceEvents?: unknown })?.traceEvents) ? (trace as { traceEvents: TraceEvent[] }).traceEvents : [];
  const complete = all.filter((e) => e && e.ph === 'X' && typeof e.ts === 'number' && typeof e.dur === 'number');
  const ops = complete.filter((e) => e.cat === 'cpu_op');
  const py = complete.filter((e) => e.cat === 'python_function');
  const kernelUsById = new Map<unknown, number>();
  let totalCudaUs = 0;
  for (const k of complete.filter((e) => KERNEL_CATS.has(e.cat ?? ''))) {
    bump(kernelUsById, k.args?.['External id'], k.dur!);
    totalCudaUs += k.dur!;
  }

  const byOp = new Map<string, Acc>();
  const byModule = new Map<string, { selfCpuUs: number; ops: Map<string, number>; forward: PythonFrame | null }>();
  const byCaller = new Map<string, PythonFrame & { selfCpuUs: number }>();
  let totalSelfCpuUs = 0;

  const tids = new Set(ops.map((e) => String(e.tid)));
  for (const tid of tids) {
    // One sweep per thread over Python frames and operators by start time: a stack of open Python
    // frames gives each operator its Python context; a stack of open operators gives its self time.
    const items = [...py.filter((e) => String(e.tid) === tid).map((ev) => ({ ev, isPy: true })),
      ...ops.filter((e) => String(e.tid) === tid).map((ev) => ({ ev, isPy: false }))]
      .sort((a, b) => a.ev.ts! - b.ev.ts! || (a.isPy === b.isPy ? b.ev.dur! - a.ev.dur! : a.isPy ? -1 : 1));
    const pyStack: Placed[] = [];
    const opStack: Placed[] = [];
    const placedOps: Array<{ placed: Placed; pyChain: TraceEvent[] }> = [];
    for (const { ev, isPy } of items) {
      const start = ev.ts!;
      while (pyStack.length && pyStack[pyStack.length - 1].end <= start) pyStack.pop();
      if (isPy) {
        pyStack.push({ ev, end: start + ev.dur!, childUs: 0 });
        continue;
      }
      while (opStack.length && opStack[opStack.length - 1].end <= start) opStack.pop();
      const placed = { ev, end: start + ev.dur!, childUs: 0 };
      if (opStack.length) opStack[opStack.length - 1].childUs += ev.dur!;
      opStack.push(placed);
      placedOps.push({ placed, pyChain: pyStack.map((p) => p.ev) });
    }
    for (const { placed, pyChain } of placedOps) {
      const ev = placed.ev;
      const name = ev.name ?? '?';
      const self = Math.max(0, ev.dur! - placed.childUs);
      totalSelfCpuUs += self;
      let acc = byOp.get(name);
      if (!acc) {
        acc = { row: { name, calls: 0, selfCpuUs: 0, cpuUs: 0, cudaUs: 0, shapes: [], modulePath: null, caller: null },
          shapes: new Map(), paths: new Map(), callers: new Map() };
        byOp.set(name, acc);
      }
      acc.row.calls += 1;
      acc.row.selfCpuUs += self;
      acc.row.cpuUs += ev.dur!;
      acc.row.cudaUs += kernelUsById.get(ev.args?.['External id']) ?? 0;
      const shape = shapeText(ev.args?.['Input Dims']);
      if (shape) bump(acc.shapes, shape, 1);

      const modules: string[] = [];
      let forward: PythonFrame | null = null;
      let caller: PythonFrame | null = null;
      for (let i = 0; i < pyChain.length; i++) {
        const m = MODULE.exec(pyChain[i].name ?? '');
        if (m) {
          modules.push(m[1]);
          forward = null;
          for (let j = i + 1; j < pyChain.length && !forward; j++) {
            const f = parsePythonFrame(pyChain[j].name ?? '');
            if (f && f.function === 'forward') forward = f;
          }
          continue;
        }
        const frame = parsePythonFrame(pyChain[i].name ?? '');
        if (frame && isOwnFrame(frame)) caller = frame;
      }
      if (modules.length) {
        const path = modules.join(' › ');
        bump(acc.paths, path, self);
        let mod = byModule.get(path);
        if (!mod) byModule.set(path, mod = { selfCpuUs: 0, ops: new Map(), forward });
        mod.selfCpuUs += self;
        bump(mod.ops, name, self);
      }
      if (caller) {
        const key = `${caller.file}:${caller.line}:${caller.function}`;
        bump(acc.callers, key, self);
        const c = byCaller.get(key) ?? { ...caller, selfCpuUs: 0 };
        c.selfCpuUs += self;
        byCaller.set(key, c);
        if (!acc.row.caller || (acc.callers.get(key) ?? 0) >= (acc.callers.get(`${acc.row.caller.file}:${acc.row.caller.line}:${acc.row.caller.function}`) ?? 0)) {
          acc.row.caller = caller;
        }
      }
    }
  }

  const rows = [...byOp.values()].map((a) => ({ ...a.row, shapes: topKeys(a.shapes, 3), modulePath: topKeys(a.paths, 1)[0] ?? null }));
  rows.sort((a, b) => (b.cudaUs - a.cudaUs) || (b.selfCpuUs - a.selfCpuUs));
  if (!totalCudaUs) rows.sort((a, b) => b.selfCpuUs - a.selfCpuUs);
  const modules = [...byModule.entries()].map(([path, m]) => ({ path, selfCpuUs: m.selfCpuUs, ops: topKeys(m.ops, 5), forward: m.forward }))
    .sort((a, b) => b.selfCpuUs - a.selfCpuUs);
  return {
    ops: rows.slice(0, limit), modules, callers: [...byCaller.values()].sort((a, b) => b.selfCpuUs - a.selfCpuUs),
    totalSelfCpuUs, totalCudaUs, withStack: py.length > 0, opEvents: ops.length,
  };
}
