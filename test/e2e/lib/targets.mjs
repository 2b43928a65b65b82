// Real Python targets for the e2e tests, started from the workspace copy of test/fixtures (E2E_WS)
// with the project's .venv, so frames point at files the workbench has open.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { env } from './workbench.mjs';

const repoRoot = new URL('../../..', import.meta.url).pathname;
export const VENV_PYTHON = join(repoRoot, '.venv', 'bin', 'python');
const started = [];

/** Starts `script` (relative to E2E_WS) and resolves with { pid, child, output() } once it prints READY. */
export function startTarget(script, python = VENV_PYTHON) {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script], { cwd: env.ws, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(child);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} not ready: ${out}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      if (/READY \d+/.test(out)) { clearTimeout(timer); resolve({ pid: child.pid, child, output: () => out }); }
    });
    child.stderr.on('data', (d) => { out += d; });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${script} exited (${code}): ${out}`)); });
  });
}

/** Any child process (e.g. `sleep 600` for "not Python"). */
export function startCommand(cmd, args) {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  started.push(child);
  return child;
}

export function stopTargets() {
  for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
}

/** A venv without flight-profiler (no pip either), shared with the integration tests. */
export function bareVenvPython() {
  const dir = join(repoRoot, '.cache', 'venv-bare');
  const python = join(dir, 'bin', 'python');
  if (!existsSync(python)) {
    const base = spawnSync(VENV_PYTHON, ['-c', 'import sys; print(sys.base_prefix)'], { encoding: 'utf8' }).stdout.trim();
    const made = spawnSync(join(base, 'bin', 'python3'), ['-m', 'venv', '--without-pip', dir], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(made.stderr);
  }
  return python;
}

export function unusedPid() {
  for (let pid = 4_000_000; pid > 3_000_000; pid -= 7919) if (!existsSync(`/proc/${pid}`)) return pid;
  throw new Error('no unused pid');
}

/** PIDs of running PyFlight helpers (no orphan may survive a detach). */
export function helperPids() {
  const out = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((l) => l.includes('pyflight_helper')).map((l) => Number(l.trim().split(/\s+/)[0]));
}
