// A real gunicorn master (test/fixtures/web/flask_app.py) on a private unix socket, for e2e flows
// about worker groups: only its own processes are looked at, and no TCP port is taken.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env } from './workbench.mjs';
import { VENV_PYTHON } from './targets.mjs';

/** Children of `pid` (its workers), from /proc. */
export function workersOf(pid) {
  const out = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    out.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number));
  }
  return out.sort((a, b) => a - b);
}

export async function until(what, probe, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts gunicorn with `workers` sync workers; resolves once they all run. */
export async function startGunicorn(workers = 2) {
  const dir = mkdtempSync(join(tmpdir(), 'pyflight-e2e-gunicorn-'));
  const socket = join(dir, 's');
  const master = spawn(join(VENV_PYTHON, '..', 'gunicorn'), ['-w', String(workers), '--no-control-socket', '-b', `unix:${socket}`, 'flask_app:app'],
    { cwd: join(env.ws, 'web'), stdio: 'ignore' });
  await until(`${workers} gunicorn workers`, () => workersOf(master.pid).length === workers);
  return {
    pid: master.pid,
    workers: () => workersOf(master.pid),
    /** GET over the unix socket; resolves with the status (0 when the request failed). */
    get: (path) => new Promise((resolve) => {
      const req = request({ socketPath: socket, path }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
      req.on('error', () => resolve(0));
      req.end();
    }),
    stop: () => {
      master.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
