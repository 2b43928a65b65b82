// `npm run bench`: measures, in one run on one machine, what the long-lived helper buys over
// spawning the flight_profiler CLI per command (DESIGN.md). Reports ratios, never absolute
// thresholds. Writes bench/results.json.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const python = join(root, '.venv', 'bin', 'python');
process.env.PYFLIGHT_HELPER_PATH ??= join(root, 'python');
const { Session } = await import(join(root, 'out', 'bench', 'engine.js'));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);

const target = spawn(python, [join(root, 'test', 'fixtures', 'busy_service.py')], { stdio: ['ignore', 'pipe', 'ignore'] });
const pid = await new Promise((resolve) => target.stdout.on('data', (d) => { const m = /READY (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); }));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const session = new Session(pid, { log: silent, livenessIntervalMs: 0 });
await session.attach(); // also injects the agent, so the CLI baseline does not pay for injection

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

const results = {
  stack_latency: {
    rounds: ROUNDS,
    baseline: 'flight_profiler <pid> --cmd stack (new CLI process per command, agent already injected)',
    cli_median_ms: Math.round(median(cliTimes)),
    helper_median_ms: Math.round(median(helperTimes)),
    speedup_ratio: Number((median(cliTimes) / median(helperTimes)).toFixed(2)),
    note: 'helper stacks also carry Python thread names (one extra agent round-trip) that the CLI lacks',
  },
};
writeFileSync(join(root, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
