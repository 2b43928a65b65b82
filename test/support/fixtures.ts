import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
  /** stdout and stderr as they came. */
  output: () => string;
  /** What it wrote to stdout, and to stderr, apart. */
  streams: () => { stdout: string; stderr: string };
  stop: () => Promise<void>;
}

const started: Target[] = [];

/** Starts a fixture script and resolves once it prints "READY <pid>". */
export function startTarget(argv: string[], python = VENV_PYTHON, readyTimeoutMs = 15000): Promise<Target> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, argv, { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    let stderr = '';
    let stopping = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // A fixture that dies while a test runs leaves its last words here, so a CI log shows why
    // (a test that kills its own target on purpose also prints them; that is only noise).
    child.once('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(`[fixture ${argv.join(' ')} pid ${child.pid} exited: ${signal ?? `status ${code}`}; its output ends:]\n${out.slice(-3000)}\n[end of fixture output]\n`);
    });
    const target: Target = {
      pid: child.pid!,
      child,
      output: () => out,
      streams: () => ({ stdout, stderr }),
      stop: async () => {
        stopping = true;
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    started.push(target);
    const timer = setTimeout(() => reject(new Error(`fixture ${argv.join(' ')} not ready: ${out}`)), readyTimeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      stdout += chunk.toString();
      if (/READY \d+/.test(out)) {
        clearTimeout(timer);
        resolve(target);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { out += chunk.toString(); stderr += chunk.toString(); });
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

/** A PID that is not in use right now. */
export function unusedPid(): number {
  for (let pid = 4_000_000; pid > 3_000_000; pid -= 7919) if (!existsSync(`/proc/${pid}`)) return pid;
  throw new Error('no unused pid found');
}

/**
 * Everything this test run starts inherits PYFLIGHT_TEST_OWNER (helpers keep the environment they
 * were spawned with, even after their parent exits), so the tests can tell their own processes from
 * another user's or another PyFlight instance's on a shared machine.
 */
export const TEST_OWNER_VAR = 'PYFLIGHT_TEST_OWNER';
process.env[TEST_OWNER_VAR] ??= `run-${process.pid}-${Date.now()}`;
export const RUN_OWNER = process.env[TEST_OWNER_VAR]!;

/** The environment of a process (ours: same user), or undefined when it is gone or unreadable. */
export function environOf(pid: number): Map<string, string> | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return new Map(raw.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  } catch {
    return undefined;
  }
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** Is this pid a live (not zombie) process? */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Is `pid` a running PyFlight helper? (For a pid that `hello` reported: `session.helperPid`.) */
export function isHelperRunning(pid: number): boolean {
  return isRunning(pid) && (cmdlineOf(pid) ?? '').includes('pyflight_helper');
}

/**
 * Live PyFlight helpers started by us under `owner` (a value of PYFLIGHT_TEST_OWNER): descendants of
 * the process we spawned with it, found by their inherited environment. Helpers of other users and
 * other test runs are not counted.
 */
export function helpersOwnedBy(owner: string): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number)
    .filter((pid) => isRunning(pid) && (cmdlineOf(pid) ?? '').includes('pyflight_helper') && environOf(pid)?.get(TEST_OWNER_VAR) === owner);
}

/** Waits (bounded by tries, not a clock assertion) until `pids()` is empty; returns what is left. */
export async function waitUntilGone(pids: () => number[], tries = 50): Promise<number[]> {
  for (let i = 0; i < tries && pids().length; i++) await new Promise((r) => setTimeout(r, 100));
  return pids();
}

/**
 * A helper that is not ours: another user's or another VS Code window's `python -m pyflight_helper`,
 * started without our PYFLIGHT_TEST_OWNER. It waits on its stdin; `stop()` kills it.
 */
export function startForeignHelper(): { pid: number; stop: () => Promise<void> } {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: path.join(ROOT, 'python') };
  delete env[TEST_OWNER_VAR];
  const child = spawn(VENV_PYTHON, ['-u', '-m', 'pyflight_helper'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
