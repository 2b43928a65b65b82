// Real Python targets for the e2e tests, started from the workspace copy of test/fixtures (E2E_WS)
// with the project's .venv, so frames point at files the workbench has open.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // How it ended, in its output: a target that dies during a test says so in the assertion's text.
      out += `\n[${script} exited: ${signal ? `killed by ${signal}` : `code ${code}`}]\n`;
      reject(new Error(`${script} exited (${code}): ${out}`));
    });
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

function environOf(pid) {
  try {
    return new Map(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  } catch {
    return undefined;
  }
}

function isLiveHelper(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat[stat.lastIndexOf(')') + 2] === 'Z') return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pyflight_helper');
  } catch {
    return false;
  }
}

/**
 * PIDs of running PyFlight helpers started by THIS run's workbench: code-server and its extension
 * host run with this run's E2E_OUT, and helpers inherit it (even after a detach reparents them).
 * Another user's or another run's helpers on the same machine are not counted.
 */
export function helperPids() {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number)
    .filter((pid) => isLiveHelper(pid) && environOf(pid)?.get('E2E_OUT') === env.out);
}

export function isHelperRunning(pid) {
  return isLiveHelper(pid);
}

/**
 * A helper that is not ours (another user's / another VS Code window's): `python -m pyflight_helper`
 * without this run's E2E_OUT, waiting on its stdin. Stopped by stopTargets().
 */
export function startForeignHelper() {
  const childEnv = { ...process.env, PYTHONPATH: join(repoRoot, 'python') };
  delete childEnv.E2E_OUT;
  const child = spawn(VENV_PYTHON, ['-u', '-m', 'pyflight_helper'], { env: childEnv, stdio: ['pipe', 'ignore', 'ignore'] });
  started.push(child);
  return child;
}
