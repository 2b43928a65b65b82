// `npm run bench`: measures, in one run on one machine, what the long-lived helper buys over
// spawning the flight_profiler CLI per command (DESIGN.md). Reports ratios, never absolute
// thresholds. Writes bench/results.json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import os from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const python = join(root, '.venv', 'bin', 'python');
process.env.PYFLIGHT_HELPER_PATH ??= join(root, 'python');
const { Session, ProbeStore, recordCpuProfile, localHost, matrixInterpreters, profilerVenv } = await import(join(root, 'out', 'bench', 'engine.js'));

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
// `npm run bench -- flamegraph` runs one section; no argument runs them all. Results of sections
// not run this time are kept from bench/results.json.
const only = process.argv.slice(2);
const wants = (section) => only.length === 0 || only.includes(section);
const resultsFile = join(root, 'bench', 'results.json');
const results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : {};

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Starts a benchmark target and resolves its pid once it prints READY <pid>. */
const started = new Set();
process.on('exit', () => { for (const child of started) child.kill('SIGKILL'); }); // a failed section leaves no target behind
async function startTarget(script) {
  const child = spawn(python, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let stderr = ''; // shown if the bench fails: why a target died
  let stdout = ''; // what it printed before READY (e.g. its calibration)
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-3000); });
  child.on('exit', (code, signal) => { if (code !== null && code !== 0 || signal && signal !== 'SIGKILL') console.error(`${script} (pid ${child.pid}) exited: ${code ?? signal}\n${stderr}`); });
  const pid = await new Promise((resolve, reject) => {
    const onData = (d) => {
      stdout += String(d);
      const m = /READY (\d+)/.exec(stdout);
      if (m) { child.stdout.off('data', onData); resolve(Number(m[1])); }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${script} exited (${code}) before READY`)));
  });
  return { child, pid, output: () => stdout };
}

/** What a figure was measured on, kept beside it: sections not run keep their earlier figures, from another day or machine. */
function measuredOn() {
  const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? os.cpus()[0]?.model;
  return { cpu, cores: os.availableParallelism(), load_average_1m: Number(os.loadavg()[0].toFixed(1)), date: new Date().toISOString().slice(0, 16).replace('T', ' ') };
}

/** `flight_profiler <pid> --cmd <command>`, as a user of the CLI runs it: one new process per command. */
function cli(pid, command) {
  const r = spawnSync(python, ['-m', 'flight_profiler.client', String(pid), '--cmd', command, '--no-color'], { encoding: 'utf8', timeout: 60_000 });
  return r.stdout ?? '';
}

const ratioOf = (cliMs, pyflightMs) => ({ cli_ms: Number(cliMs.toFixed(1)), pyflight_ms: Number(pyflightMs.toFixed(1)),
  ratio: Number((cliMs / pyflightMs).toFixed(2)) });
const busyService = join(root, 'test', 'fixtures', 'busy_service.py');

// --- roundtrip: one command through an attached session vs the CLI, same target, agent loaded.
if (wants('roundtrip')) {
  console.error('bench: roundtrip');
  const { child, pid } = await startTarget(busyService);
  const session = new Session(pid, { log: silent, livenessIntervalMs: 0 });
  await session.attach(); // read-only: nothing loaded yet
  await session.loadAgent(); // so the CLI does not pay for injection either
  const times = { cliStack: [], stack: [], cliGet: [], get: [] };
  for (let i = 0; i < ROUNDS; i++) {
    // Interleaved so machine noise hits both alike.
    let t = performance.now();
    const out = cli(pid, 'stack');
    times.cliStack.push(performance.now() - t);
    if (!out.includes('request_worker')) throw new Error('CLI baseline did not produce stacks: ' + out.slice(0, 400));
    t = performance.now();
    const s = await session.call('stack', {});
    times.stack.push(performance.now() - t);
    if (!s.threads.some((th) => th.name === 'request-worker')) throw new Error('PyFlight stack missing request-worker');
    t = performance.now();
    const got = cli(pid, 'getglobal __main__ __name__');
    times.cliGet.push(performance.now() - t);
    if (!got.includes('"__main__"')) throw new Error('CLI getglobal failed: ' + got.slice(0, 400));
    t = performance.now();
    const g = await session.getglobal({ module: '__main__', field: '__name__' });
    times.get.push(performance.now() - t);
    if (!String(g.value).includes('__main__')) throw new Error('PyFlight getglobal failed: ' + JSON.stringify(g));
  }
  await session.detach();
  child.kill('SIGKILL');
  results.roundtrip = {
    measured_on: measuredOn(),
    rounds: ROUNDS,
    baseline: 'flight_profiler <pid> --cmd <command> (a new CLI process per command, agent already injected), test/fixtures/busy_service.py',
    stack: ratioOf(median(times.cliStack), median(times.stack)),
    getglobal: ratioOf(median(times.cliGet), median(times.get)),
    note: 'PyFlight stacks are read from the target\'s memory by the helper (python/pyflight_helper/frame_reader.py on its own CPython 3.11, else pystack) and also carry thread names; goal ratio >= 20',
  };
  delete results.stack_latency; // the same measurement under its old name
}

// --- attach: from nothing to the first stack, on a fresh target each round.
if (wants('attach')) {
  console.error('bench: attach');
  const rounds = Number(process.env.BENCH_ATTACH_ROUNDS ?? 5);
  const cliMs = [];
  const pyflightMs = [];
  const withAgentMs = [];
  for (let i = 0; i < rounds; i++) {
    for (const side of ['cli', 'pyflight', 'withAgent']) {
      const { child, pid } = await startTarget(busyService);
      const t = performance.now();
      if (side === 'cli') {
        const out = cli(pid, 'stack'); // injects the agent, then asks it for the stacks
        cliMs.push(performance.now() - t);
        if (!out.includes('request_worker')) throw new Error('CLI first stack failed: ' + out.slice(0, 400));
      } else {
        const session = new Session(pid, { log: silent, livenessIntervalMs: 0 });
        await session.attach();
        if (side === 'withAgent') await session.loadAgent();
        const s = await session.call('stack', {});
        (side === 'cli' ? cliMs : side === 'pyflight' ? pyflightMs : withAgentMs).push(performance.now() - t);
        if (!s.threads.some((th) => th.name === 'request-worker')) throw new Error('PyFlight first stack missing request-worker');
        await session.detach();
      }
      child.kill('SIGKILL');
    }
  }
  results.attach = {
    measured_on: measuredOn(),
    rounds,
    ...ratioOf(median(cliMs), median(pyflightMs)),
    ratio: Number((median(pyflightMs) / median(cliMs)).toFixed(2)), // PyFlight / CLI here: lower is better
    pyflight_with_agent_ms: Number(median(withAgentMs).toFixed(1)),
    ratio_with_agent: Number((median(withAgentMs) / median(cliMs)).toFixed(2)),
    cli_measures: 'flight_profiler <pid> --cmd stack on a fresh target: starts the CLI, injects the agent, asks it for the stacks',
    pyflight_measures: 'new Session: helper start, preflight, attach (read-only, loads nothing), first stack read from memory — no agent needed',
    pyflight_with_agent_measures: 'the same plus loading the agent first (what a first watch/trace pays)',
    goal: 'ratio (PyFlight / CLI) <= 1.1',
  };
}

// --- overhead: the target's throughput loss while observed, vs unobserved windows between them.
if (wants('overhead')) {
  console.error('bench: overhead');
  const WINDOW_MS = Number(process.env.BENCH_OVERHEAD_SECONDS ?? 2) * 1000;
  const rounds = Number(process.env.BENCH_OVERHEAD_ROUNDS ?? 5);
  const { child, pid, output } = await startTarget(join(root, 'bench', 'overhead_target.py'));
  const handlerCpuMs = Number(/HANDLER_CPU_MS ([\d.]+)/.exec(output())?.[1]);
  const session = new Session(pid, { log: silent, livenessIntervalMs: 0 });
  await session.attach();
  await session.loadAgent(); // loaded in every window, baseline included: only the observation differs
  let latest = null; // [calls, target's monotonic seconds] from its last CALLS line
  let pending = '';
  child.stdout.on('data', (d) => {
    pending += String(d);
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) { const m = /^CALLS (\d+) ([\d.]+)$/.exec(line); if (m) latest = [Number(m[1]), Number(m[2])]; }
  });
  const calls = async () => {
    latest = null;
    while (!latest) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the overhead target (pid ${pid}) died (see its stderr above)`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return latest;
  };
  /** CPU seconds the target has used (utime + stime from /proc/<pid>/stat). */
  const cpuSeconds = () => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100 on Linux)
  };
  /** Requests handled per wall-clock second over one window, and per CPU second of the target. */
  async function throughput() {
    const [c0, t0] = await calls();
    const cpu0 = cpuSeconds();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const [c1, t1] = await calls();
    const cpu = cpuSeconds() - cpu0;
    return { wall: (c1 - c0) / (t1 - t0), cpu: cpu > 0 ? (c1 - c0) / cpu : NaN };
  }
  const running = (probe) => new Promise((resolve, reject) => {
    const sub = probe.onDidChange(() => {
      if (probe.state === 'running') { sub.dispose(); resolve(); } else if (probe.state !== 'starting') { sub.dispose(); reject(new Error(`probe ${probe.state}`)); }
    });
  });
  async function watchWindow(params) {
    const probe = session.startProbe('watch', { module: '__main__', method: 'handle', limit: 10_000_000, ...params });
    await running(probe);
    const rate = await throughput();
    probe.stop();
    const summary = await probe.done;
    if (!summary.count) throw new Error('the watch received no calls');
    return rate;
  }
  const observe = {
    async perf() {
      const abort = new AbortController();
      const done = recordCpuProfile({ pid, host: localHost, preflightResult: { interpreter: { python } } }, { rate: 100, log: silent }, abort.signal);
      await new Promise((r) => setTimeout(r, 1500)); // py-spy started and sampling
      const rate = await throughput();
      abort.abort();
      const result = await done;
      if (result.profile.samples === 0) throw new Error('the CPU profile recorded no samples');
      return rate;
    },
    watch() { return watchWindow({ expr: 'args, return_obj' }); },
    // PyFlight's own watch (no --expr): the call rendered as Python by the agent's _pyflight_render, what the views show.
    watch_render() { return watchWindow({}); },
    async trace() {
      const probe = session.startProbe('trace', { module: '__main__', method: 'handle', limit: 10_000_000 });
      await running(probe);
      const rate = await throughput();
      probe.stop();
      const summary = await probe.done;
      if (!summary.count) throw new Error('the trace received no calls');
      return rate;
    },
  };
  const kinds = ['perf', 'watch', 'watch_render', 'trace'];
  const loss = Object.fromEntries(kinds.map((k) => [k, []]));
  const cpuLoss = Object.fromEntries(kinds.map((k) => [k, []]));
  const usPerCall = Object.fromEntries(kinds.map((k) => [k, []]));
  const loads = [];
  const baselines = [];
  let before = await throughput();
  baselines.push(before.wall);
  for (let i = 0; i < rounds; i++) {
    for (const kind of kinds) {
      const observed = await observe[kind]();
      const after = await throughput(); // each observed window sits between two unobserved ones
      baselines.push(after.wall);
      loss[kind].push(100 * (1 - observed.wall / ((before.wall + after.wall) / 2)));
      const baseCpu = (before.cpu + after.cpu) / 2;
      cpuLoss[kind].push(100 * (1 - observed.cpu / baseCpu));
      // The target CPU one request gained while observed: the probe's own cost per call, whatever the handler's length.
      usPerCall[kind].push(1e6 * (1 / observed.cpu - 1 / baseCpu));
      loads.push(os.loadavg()[0]);
      before = after;
    }
  }
  await session.detach();
  child.kill('SIGKILL');
  const pct = (xs) => Number(median(xs).toFixed(1));
  results.overhead = {
    rounds,
    window_seconds: WINDOW_MS / 1000,
    // The handler's CPU per request as the target measured it (time.thread_time, 0.3 s): the percentages are of this.
    handler_cpu_ms: handlerCpuMs,
    baseline_requests_per_second: Math.round(median(baselines)),
    us_per_call: Object.fromEntries(kinds.map((k) => [k, pct(usPerCall[k])])),
    load_average_during: [Number(Math.min(...loads).toFixed(1)), Number(Math.max(...loads).toFixed(1))],
    // Requests per CPU second of the target: the loss of a CPU-bound service, immune to other
    // processes taking the CPU (a shared machine), but blind to time the target spends paused
    // (py-spy stops it for each sample), which only the wall-clock figures below include.
    perf_pct: pct(cpuLoss.perf),
    watch_pct: pct(cpuLoss.watch),
    watch_render_pct: pct(cpuLoss.watch_render),
    trace_pct: pct(cpuLoss.trace),
    // the same per round: the spread shows how much the machine moved
    spread_pct: Object.fromEntries(kinds.map((k) => [k, [Number(Math.min(...cpuLoss[k]).toFixed(1)), Number(Math.max(...cpuLoss[k]).toFixed(1))]])),
    wall_clock: { perf_pct: pct(loss.perf), watch_pct: pct(loss.watch), watch_render_pct: pct(loss.watch_render), trace_pct: pct(loss.trace),
      spread: Object.fromEntries(Object.entries(loss).map(([k, xs]) => [k, [Number(Math.min(...xs).toFixed(1)), Number(Math.max(...xs).toFixed(1))]])) },
    load_average: os.loadavg().map((x) => Number(x.toFixed(1))),
    how: 'bench/overhead_target.py (handler calibrated to 1 ms of CPU, back to back, agent loaded throughout); each observed window (py-spy at 100 Hz, watch of handle() with --expr "args, return_obj", PyFlight’s own watch of it (no --expr: the call rendered as Python), trace of handle()) vs the mean of the unobserved windows right before and after it; median over rounds, spread = min/max; us_per_call = target CPU per request observed − unobserved',
    measured_on: measuredOn(),
    goal: 'perf <= 5, watch <= 5; trace reported',
  };
}

if (wants('activation')) {
  const { benchActivation, packageSizes } = await import('./activation.mjs');
  Object.assign(results, { activation: { ...benchActivation(), measured_on: measuredOn() } }, packageSizes());
  results.activation_ms = results.activation.activation_ms;
}

// --- watch_stream: a function called ~1,000 times/s, watched for BENCH_WATCH_SECONDS (default 60),
// through the same Session + ProbeStore the views read. Measures the extension-host side.
if (wants('watch_stream')) {
const WATCH_SECONDS = Number(process.env.BENCH_WATCH_SECONDS ?? 60);
const hotTarget = spawn(python, [join(root, 'bench', 'hot_target.py')], { stdio: ['ignore', 'pipe', 'ignore'] });
const hotPid = await new Promise((resolve) => hotTarget.stdout.on('data', (d) => { const m = /READY (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); }));
const watcher = new Session(hotPid, { log: silent, livenessIntervalMs: 0 });
await watcher.attach();
const CAP = 500;
const store = new ProbeStore(() => CAP);
const calls = async () => Number((await watcher.getglobal({ module: '__main__', field: 'CALLS' })).value);
global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const lag = monitorEventLoopDelay({ resolution: 10 });
const probe = watcher.startProbe('watch', { module: '__main__', method: 'hot', expr: 'args, return_obj', limit: 10_000_000 });
store.add(watcher, probe);
await new Promise((resolve) => { const sub = probe.onDidChange(() => { if (probe.state === 'running') { sub.dispose(); resolve(); } }); });
const callsAtStart = await calls();
lag.enable();
await new Promise((r) => setTimeout(r, WATCH_SECONDS * 1000));
const callsAtStop = await calls();
probe.stop();
const summary = await probe.done;
lag.disable();
global.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
const entry = store.of('watch')[0];
await watcher.detach();
hotTarget.kill('SIGKILL');
const expected = callsAtStop - callsAtStart;
results.watch_stream = {
  measured_on: measuredOn(),
  seconds: WATCH_SECONDS,
  calls_per_second: Math.round(expected / WATCH_SECONDS),
  records_received: summary.count,
  calls_made_while_measured: expected,
  // Received covers a little more than the measured window (install → first read, last read → off),
  // so it may exceed `calls_made_while_measured`; anything below it was lost.
  records_lost: Math.max(0, expected - summary.count),
  kept_in_view: entry.records.length,
  dropped_by_cap: entry.dropped,
  cap: CAP,
  event_loop_lag_p99_ms: Number((lag.percentile(99) / 1e6).toFixed(1)),
  event_loop_lag_max_ms: Number((lag.max / 1e6).toFixed(1)),
  heap_growth_mb: Number(((heapAfter - heapBefore) / 2 ** 20).toFixed(1)),
  goal: 'lag p99 <= 50 ms, growth <= 50 MB, 0 lost',
};

}

if (wants('flamegraph')) {
  const { benchFlamegraph } = await import('./flamegraph.mjs');
  results.flamegraph = { ...(await benchFlamegraph()), measured_on: measuredOn() };
}

if (wants('soak')) {
  const { benchSoak } = await import('./soak.mjs');
  results.soak = { ...(await benchSoak()), measured_on: measuredOn() };
}

if (wants('matrix')) {
  const { benchMatrix } = await import('./matrix.mjs');
  results.matrix = { ...(await benchMatrix({ root, Session, matrixInterpreters, profilerVenv })), measured_on: measuredOn() };
}

if (wants('memory')) {
  console.error('bench: memory (a big heap: building it takes a while)');
  const { benchMemory } = await import('./memory.mjs');
  results.memory = { ...(await benchMemory(Session)), measured_on: measuredOn() };
}

results.machine = machine();
writeFileSync(resultsFile, JSON.stringify(results, null, 2) + '\n');
printTable(results);
// After d3-flame-graph's page has crashed, Playwright's connection to Chromium can keep Node alive
// once everything is written; exiting also makes Playwright kill the browser it launched.
process.exit(0);

/** What the numbers were measured on. */
function machine() {
  const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? os.cpus()[0]?.model;
  const py = spawnSync(python, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).stdout.trim();
  return { nproc: os.availableParallelism(), cpu, python: py, node: process.version, date: new Date().toISOString().slice(0, 10) };
}

function printTable(r) {
  const rows = [];
  const on = (m) => (m ? `${m.cpu}, ${m.cores} cores, load ${m.load_average_1m}, ${m.date}` : 'not recorded');
  const section = { roundtrip: r.roundtrip, attach: r.attach, overhead: r.overhead, activation_ms: r.activation, bundle_kb: r.activation,
    vsix_kb: r.activation, watch_stream: r.watch_stream, flamegraph: r.flamegraph, soak: r.soak, matrix: r.matrix, memory: r.memory };
  const row = (key, value, goal) => rows.push([key, value, goal, on(section[key.split('.')[0]]?.measured_on)]);
  for (const k of ['stack', 'getglobal']) {
    const x = r.roundtrip?.[k];
    if (x) row(`roundtrip.${k}`, `CLI ${x.cli_ms} ms / PyFlight ${x.pyflight_ms} ms = ${x.ratio}×`, '≥ 20×');
  }
  if (r.attach) row('attach', `PyFlight ${r.attach.pyflight_ms} ms / CLI ${r.attach.cli_ms} ms = ${r.attach.ratio} (with agent ${r.attach.pyflight_with_agent_ms} ms = ${r.attach.ratio_with_agent})`, '≤ 1.1');
  if (r.overhead) {
    const o = r.overhead;
    const render = o.watch_render_pct !== undefined ? `, PyFlight's own watch ${o.watch_render_pct}%` : '';
    row('overhead', `perf ${o.perf_pct}%, watch ${o.watch_pct}%${render}, trace ${o.trace_pct}% of a ${o.handler_cpu_ms ?? '~1'} ms handler per target CPU second`
      + `${o.us_per_call ? ` (${o.us_per_call.watch}${o.us_per_call.watch_render !== undefined ? ` and ${o.us_per_call.watch_render}` : ''} µs of CPU per watched call)` : ''}`
      + ` (wall clock: ${o.wall_clock.perf_pct}%, ${o.wall_clock.watch_pct}%${o.wall_clock.watch_render_pct !== undefined ? `, ${o.wall_clock.watch_render_pct}%` : ''}, ${o.wall_clock.trace_pct}%)`,
      'perf ≤ 5, watch ≤ 5');
  }
  if (r.activation_ms !== undefined) row('activation_ms', `${r.activation_ms} ms`, '≤ 30 ms');
  if (r.bundle_kb !== undefined) row('bundle_kb', `${r.bundle_kb} KB loaded at activation${r.lazy_kb ? ` (+ ${r.lazy_kb} KB of execa, loaded on the first process spawn)` : ''}`, '≤ 300 KB');
  if (r.vsix_kb !== undefined) row('vsix_kb', r.vsix_kb === null ? 'no .vsix yet (npm run package)' : `${r.vsix_kb} KB`, '≤ 3 MB');
  if (r.watch_stream) row('watch_stream', `${r.watch_stream.records_lost} lost, lag p99 ${r.watch_stream.event_loop_lag_p99_ms} ms, heap +${r.watch_stream.heap_growth_mb} MB`, r.watch_stream.goal);
  const f = r.flamegraph;
  if (f) {
    row('flamegraph', `first paint ${f.first_paint_ms} ms (tree ${f.first_paint_breakdown_ms?.build} ms), zoom ${f.zoom_ms} ms, search ${f.search_ms} ms; d3-flame-graph ${f.baseline_first_paint_ms} ms${f.baseline_note ? ' (did not finish)' : ''} = ${f.ratio}×, load ${f.load_average_1m}`,
      'first paint ≤ 500 ms, zoom and search ≤ 100 ms, ratio ≥ 3');
  }
  if (r.soak) row('soak', `${r.soak.attach_cycles} attach + ${r.soak.watch_cycles} watch cycles: ${r.soak.orphan_processes} orphans, ${r.soak.leaked_fds} leaked fds, ${r.soak.probes_left} probes left, cost after/before ${r.soak.cost_ratio}`, '0, 0, 0');
  for (const [label, x] of Object.entries(r.matrix?.interpreters ?? {})) {
    row(`matrix.${label}`, x.skipped ? `skipped: ${x.skipped}` : `attach ${x.attach_ms} ms, agent ${x.agent_load_ms} ms; a watch keeps ${x.watch_throughput_ratio} of the throughput (${x.spread.join('–')})`, 'near 3.11\'s');
  }
  const mem = r.memory;
  if (mem) {
    const c = mem.census;
    const p = mem.pympler_summary;
    row('memory', `${(mem.heap_objects / 1e6).toFixed(1)} M objects (${mem.rss_mb} MB RSS): census diff ${c.diff_s} s (censuses ${c.census_s.join(' and ')} s, ${(c.objects_per_s / 1e6).toFixed(2)} M objects/s), `
      + `longest heartbeat gap ${c.longest_heartbeat_gap_ms} ms (at rest ${mem.heartbeat_gap_at_rest_ms} ms; gc.get_objects ${c.get_objects_pause_ms} ms), extra RSS ${c.extra_rss_pct} %, leaking class first: ${c.leaking_class_first}; `
      + (p.error ? `pympler summary failed after ${p.after_s} s: ${p.error}` : `pympler summary ${p.summary_s} s, gap ${p.longest_heartbeat_gap_ms} ms, extra RSS ${p.extra_rss_pct} %, leaking class first: ${p.leaking_class_first}; a pympler diff ≈ ${p.diff_estimate_s} s = ${mem.speedup}× the census diff`),
      'diff ≤ 30 s, pause ≤ 100 ms (≤ 1 s), extra RSS ≤ 10 %, class first, ≥ 5× pympler');
    const h = mem.holder_search;
    if (h) {
      const one = (x) => `${x.search_s} s, ${x.heap_passes} passes, longest heartbeat gap ${x.longest_heartbeat_gap_ms} ms (in the target ${x.longest_pause_in_target_ms} ms), holder ${x.holder}`;
      row('memory.holders', `PriceRequest: gc.get_referrers passes ${one(h.get_referrers)}; sliced passes ${one(h.sliced)} (gc.get_objects ${h.sliced.get_objects_ms} ms)`, 'pause ≤ 100 ms (≤ 1 s)');
    }
  }
  const m = r.machine;
  console.log(`\n| key | measured | goal | measured on |\n|---|---|---|---|\n${rows.map((x) => `| ${x.join(' | ')} |`).join('\n')}\n\nThis run: ${m.date}, ${m.nproc} cores (${m.cpu}), Python ${m.python}, Node ${m.node}.`);
}
