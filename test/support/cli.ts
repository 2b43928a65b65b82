import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { CLI, ROOT } from './fixtures';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `pyflight <args>` (dist/cli.js) to its end; `whileRunning` is called again and again until then
 * (load on a server while the CLI profiles or watches it). Its helpers are this test run's. */
export function runCli(args: string[], whileRunning?: () => Promise<unknown>): Promise<CliRun> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYFLIGHT_TEST_OWNER: process.env.PYFLIGHT_TEST_OWNER ?? String(process.pid) } });
    let stdout = '';
    let stderr = '';
    let running = true;
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const load = whileRunning ? (async () => { while (running) await whileRunning().catch(() => undefined); })() : Promise.resolve();
    child.once('close', async (code) => {
      running = false;
      await load;
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

export interface CliSyncRun { status: number | null; stdout: string; stderr: string }

/** Runs `pyflight <args>` synchronously (bounded at 3 min: a bound, not an assertion). */
export function cliSync(...args: string[]): CliSyncRun {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000, cwd: ROOT });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The last stdout line of a run that must have exited 0, as JSON. */
export function jsonOf<T>(run: CliSyncRun): T {
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as T;
}
