// `npm run bench -- matrix`: per interpreter of the tested set (the matrix lane's, each in its cached
// venv with flight-profiler): how long attaching takes (read-only, then with the agent loaded), and
// what a watch of the handler costs the target: requests per CPU second of bench/overhead_target.py
// while a watch runs, over the mean of the unwatched windows right before and after (same run, same
// process, agent loaded throughout). Ratios, not thresholds; the 3.11 row is the reference.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

export async function benchMatrix({ root, Session, matrixInterpreters, profilerVenv }) {
  const WINDOW_MS = Number(process.env.BENCH_MATRIX_SECONDS ?? 2) * 1000;
  const ROUNDS = Number(process.env.BENCH_MATRIX_ROUNDS ?? 3);
  const rows = {};
  for (const interp of matrixInterpreters()) {
    if (!interp.base) { rows[interp.label] = { skipped: interp.absent }; continue; }
    console.error(`bench: matrix ${interp.label}`);
    const python = await profilerVenv(interp);
    const child = spawn(python, [join(root, 'bench', 'overhead_target.py')], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      let latest = null;
      child.stdout.on('data', (d) => {
        out += String(d);
        const lines = out.split('\n');
        out = lines.pop();
        for (const line of lines) { const m = /^CALLS (\d+) ([\d.]+)$/.exec(line); if (m) latest = [Number(m[1]), Number(m[2])]; }
      });
      await new Promise((resolve, reject) => {
        const poll = setInterval(() => { if (latest) { clearInterval(poll); resolve(); } }, 20);
        child.once('exit', (code) => { clearInterval(poll); reject(new Error(`${interp.label}: target exited ${code}`)); });
      });
      const pid = child.pid;
      const calls = async () => { latest = null; while (!latest) await new Promise((r) => setTimeout(r, 5)); return latest; };
      const cpuSeconds = () => {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return (Number(f[11]) + Number(f[12])) / 100;
      };
      const perCpuSecond = async () => {
        const [c0] = await calls();
        const cpu0 = cpuSeconds();
        await new Promise((r) => setTimeout(r, WINDOW_MS));
        const [c1] = await calls();
        return (c1 - c0) / (cpuSeconds() - cpu0);
      };
      const session = new Session(pid, { log: silent, livenessIntervalMs: 0 });
      let t = performance.now();
      await session.attach();
      const attachMs = performance.now() - t;
      t = performance.now();
      await session.loadAgent();
      const agentMs = performance.now() - t;
      const ratios = [];
      let before = await perCpuSecond();
      for (let i = 0; i < ROUNDS; i++) {
        const probe = session.startProbe('watch', { module: '__main__', method: 'handle', expr: 'args, return_obj', limit: 10_000_000 });
        await new Promise((resolve, reject) => {
          const sub = probe.onDidChange(() => {
            if (probe.state === 'running') { sub.dispose(); resolve(); } else if (probe.state !== 'starting') { sub.dispose(); reject(new Error(`watch ${probe.state}`)); }
          });
        });
        const watched = await perCpuSecond();
        probe.stop();
        if (!(await probe.done).count) throw new Error(`${interp.label}: the watch received no calls`);
        const after = await perCpuSecond();
        ratios.push(watched / ((before + after) / 2));
        before = after;
      }
      await session.detach();
      rows[interp.label] = { attach_ms: Math.round(attachMs), agent_load_ms: Math.round(agentMs),
        watch_throughput_ratio: Number(median(ratios).toFixed(3)), spread: [Number(Math.min(...ratios).toFixed(3)), Number(Math.max(...ratios).toFixed(3))] };
    } finally {
      child.kill('SIGKILL');
    }
  }
  return {
    interpreters: rows,
    rounds: ROUNDS,
    window_seconds: WINDOW_MS / 1000,
    how: 'bench/overhead_target.py (1 ms handler) in each interpreter\'s matrix venv; attach = Session.attach (read-only), agent_load = Session.loadAgent; watch_throughput_ratio = requests per target CPU second while watching handle() over the mean of the unwatched windows before and after (1 = free), median of rounds',
    goal: 'reported; each interpreter near 3.11\'s',
  };
}
