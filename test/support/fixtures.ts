import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** Repo root, from out/test/<lane>/x.test.js or test/<lane>/x.test.ts. */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const VENV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
export const CLI = path.join(ROOT, 'dist', 'cli.js');
process.env.PYFLIGHT_HELPER_PATH ??= path.join(ROOT, 'python');

export interface Target {
  pid: number;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

const started: Target[] = [];

/** Starts a fixture script and resolves once it prints "READY <pid>". */
export function startTarget(argv: string[], python = VENV_PYTHON, readyTimeoutMs = 15000): Promise<Target> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, argv, { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const target: Target = {
      pid: child.pid!,
      child,
      output: () => out,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    started.push(target);
    const timer = setTimeout(() => reject(new Error(`fixture ${argv.join(' ')} not ready: ${out}`)), readyTimeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (/READY \d+/.test(out)) {
        clearTimeout(timer);
        resolve(target);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fixture exited (${code}) before READY: ${out}`));
    });
  });
}

/** Stops every fixture started by this test file (call in `after`). */
export async function stopAllTargets(): Promise<void> {
  await Promise.all(started.splice(0).map((t) => t.stop()));
}

/** A venv without flight-profiler (same base interpreter as .venv), created once. */
export function bareVenvPython(): string {
  const dir = path.join(ROOT, '.cache', 'venv-bare');
  const python = path.join(dir, 'bin', 'python');
  if (!existsSync(python)) {
    const base = spawnSync(VENV_PYTHON, ['-c', 'import sys; print(sys.base_prefix)'], { encoding: 'utf8' }).stdout.trim();
    const baseBin = path.join(base, 'bin', 'python3');
    const made = spawnSync(baseBin, ['-m', 'venv', '--without-pip', dir], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`cannot create ${dir}: ${made.stderr}`);
  }
  return python;
}

/** PIDs of live processes whose command line contains `needle` (to prove nothing is orphaned). */
export function processesMatching(needle: string): number[] {
  const out = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((l) => l.includes(needle) && !l.includes('ps -eo')).map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** A PID that is not in use right now. */
export function unusedPid(): number {
  for (let pid = 4_000_000; pid > 3_000_000; pid -= 7919) if (!existsSync(`/proc/${pid}`)) return pid;
  throw new Error('no unused pid found');
}
