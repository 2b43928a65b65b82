// `npm run bench`: measures, in one run on one machine, what the long-lived helper buys over
// spawning the flight_profiler CLI per command (DESIGN.md). Reports ratios, never absolute
// thresholds. Writes bench/results.json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const python = join(root, '.venv', 'bin', 'python');
process.env.PYFLIGHT_HELPER_PATH ??= join(root, 'python');
const { Session, ProbeStore } = await import(join(root, 'out', 'bench', 'engine.js'));

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

if (wants('stack_latency')) {
const target = spawn(python, [join(root, 'test', 'fixtures', 'busy_service.py')], { stdio: ['ignore', 'pipe', 'ignore'] });
const pid = await new Promise((resolve) => target.stdout.on('data', (d) => { const m = /READY (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); }));

const session = new Session(pid, { log: silent, livenessIntervalMs: 0 });
await session.attach(); // read-only: nothing loaded yet
await session.loadAgent(); // so the CLI baseline does not pay for injection either

const cliTimes = [];
const helperTimes = [];
for (let i = 0; i < ROUNDS; i++) {
  // Interleaved so machine noise hits both alike.
  let t = performance.now();
  const r = spawnSync(python, ['-m', 'flight_profiler.client', String(pid), '--cmd', 'stack', '--no-color'], { encoding: 'utf8' });
  cliTimes.push(performance.now() - t);
  if (!r.stdout.includes('request_worker')) throw new Error('CLI baseline did not produce stacks: ' + r.stdout.slice(0, 400));
  t = performance.now();
  const s = await session.stack({});
  helperTimes.push(performance.now() - t);
  if (!s.threads.some((th) => th.name === 'request-worker')) throw new Error('helper stack missing request-worker');
}
await session.detach();
target.kill('SIGKILL');

results.stack_latency = {
    rounds: ROUNDS,
    baseline: 'flight_profiler <pid> --cmd stack (new CLI process per command, agent already injected)',
    cli_median_ms: Math.round(median(cliTimes)),
    helper_median_ms: Math.round(median(helperTimes)),
    speedup_ratio: Number((median(cliTimes) / median(helperTimes)).toFixed(2)),
    note: 'helper stacks also carry Python thread names (one agent round trip, after the read) that the CLI lacks',
};
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
  results.flamegraph = await benchFlamegraph();
}

writeFileSync(resultsFile, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
// After d3-flame-graph's page has crashed, Playwright's connection to Chromium can keep Node alive
// once everything is written; exiting also makes Playwright kill the browser it launched.
process.exit(0);
