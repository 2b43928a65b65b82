// What every fault case checks after the fault: the target still runs and behaves, carries no
// probe, and nothing we started is left. Only our own processes are looked at: the ones whose
// environment carries this run's PYFLIGHT_TEST_OWNER (inherited by every helper, py-spy and
// flight-profiler client we start, even after it is reparented) and the descendants of this process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CLI, environOf, isRunning, RUN_OWNER, startTarget, stopAllTargets, TEST_OWNER_VAR, type Target } from './fixtures';

export interface Heartbeat {
  tick: number;
  ok: boolean;
  original: Record<'beat' | 'Ledger.add' | 'hostile_values', boolean>;
  cost_us: number;
}

export interface BeatingTarget extends Target {
  heartbeatFile: string;
  heartbeat: () => Heartbeat | undefined;
}

const dirs: string[] = [];

/** test/fixtures/heartbeat.py, writing its heartbeat into a private folder. */
export async function startBeatingTarget(python?: string): Promise<BeatingTarget> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pyflight-faults-'));
  dirs.push(dir);
  const heartbeatFile = path.join(dir, 'heartbeat.json');
  const target = await startTarget(['heartbeat.py', heartbeatFile], python);
  return { ...target, heartbeatFile, heartbeat: () => readHeartbeat(heartbeatFile) };
}

export function removeHeartbeatDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function readHeartbeat(file: string): Heartbeat | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Heartbeat;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The target is alive, still ticking (the tick advances), every answer it checked was right, and
 * every function a probe could have wrapped has its original code object again.
 */
export async function assertTargetHealthy(target: BeatingTarget): Promise<void> {
  assert.ok(isRunning(target.pid), `target ${target.pid} is not running:\n${target.output()}`);
  // A target started a moment ago prints READY before its first heartbeat.
  let before = target.heartbeat();
  for (let i = 0; i < 100 && !before; i++) {
    await sleep(50);
    before = target.heartbeat();
  }
  assert.ok(before, 'no heartbeat');
  let after = before;
  // Bounded by tries (a loaded 2-core machine), not a timing assertion.
  for (let i = 0; i < 100 && after.tick <= before.tick + 2; i++) {
    await sleep(50);
    after = target.heartbeat() ?? after;
  }
  assert.ok(after.tick > before.tick + 2, `target stopped ticking at ${before.tick}`);
  assert.equal(after.ok, true, `the target's functions gave a wrong answer:\n${target.output()}`);
  assert.doesNotMatch(target.output(), /BROKEN/);
  let original = after.original;
  // A probe is turned off asynchronously in the target; give its next tick a chance to see it.
  for (let i = 0; i < 40 && !Object.values(original).every(Boolean); i++) {
    await sleep(100);
    original = target.heartbeat()?.original ?? original;
  }
  assert.deepEqual(original, { beat: true, 'Ledger.add': true, hostile_values: true }, 'a probe is left in the target');
}

function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function livePids(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter(isRunning);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Live descendants of `root` (children, grandchildren, …), from /proc. */
export function descendantsOf(root: number): number[] {
  const pids = livePids();
  const parent = new Map(pids.map((p) => [p, ppidOf(p)]));
  return pids.filter((p) => {
    for (let q = parent.get(p), hops = 0; q !== undefined && q > 1 && hops < 64; q = parent.get(q), hops++) if (q === root) return true;
    return false;
  });
}

/** What PyFlight starts: helpers, py-spy, flight-profiler's client and attach binary, the CLI. */
const PYFLIGHT_PROCESS = /pyflight_helper|py-spy|flight_profiler|pyflight-agent-|dist\/cli\.js/;

/**
 * Processes PyFlight started for this run that are still alive (helpers, py-spy, flight-profiler
 * clients, CLIs), each as "pid cmdline". Targets are not counted: they are the user's.
 */
export function leftovers(): string[] {
  const ours = new Set([...descendantsOf(process.pid),
    ...livePids().filter((p) => environOf(p)?.get(TEST_OWNER_VAR) === RUN_OWNER)]);
  ours.delete(process.pid);
  return [...ours].map((p) => `${p} ${cmdline(p)}`).filter((line) => PYFLIGHT_PROCESS.test(line));
}

/** No helper, py-spy or client we started outlives the case (waits a little for exits in flight). */
export async function assertNoLeftovers(): Promise<void> {
  let left = leftovers();
  for (let i = 0; i < 50 && left.length; i++) {
    await sleep(100);
    left = leftovers();
  }
  assert.deepEqual(left, [], 'processes left behind');
}

/** Files in `dir` (recursively) other than `expected`: a half-written export or a temp file left. */
export function strayFiles(dir: string, expected: string[] = []): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => !expected.includes(f));
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built `pyflight` CLI (dist/cli.js) to its end. `wrap` runs it under another command
 * (e.g. setpriv as another user); `onSpawn` gets the child (to signal it mid-run).
 */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; wrap?: string[]; onSpawn?: (child: ChildProcess) => void } = {}): Promise<CliRun> {
  const argv = [...(options.wrap ?? []), process.execPath, CLI, ...args];
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  options.onSpawn?.(child);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** The error the CLI printed with --json. */
export function cliError(run: CliRun): { code: string; message: string; hint?: string } {
  const line = run.stdout.trim().split('\n').find((l) => l.startsWith('{"error"'));
  assert.ok(line, `no error line: ${run.stdout}${run.stderr}`);
  return (JSON.parse(line) as { error: { code: string; message: string; hint?: string } }).error;
}

/** Mocha hooks of a suite that shares one heartbeat target: started once, checked healthy and with
 * nothing of ours left after each test, stopped at the end. Returns the running target. */
export function useBeatingTarget(): () => BeatingTarget {
  let target: BeatingTarget | undefined;
  before(async () => {
    target = await startBeatingTarget();
  });
  afterEach(async () => {
    await assertTargetHealthy(target!);
    await assertNoLeftovers();
  });
  after(async () => {
    await stopAllTargets();
    removeHeartbeatDirs();
  });
  return () => target!;
}
