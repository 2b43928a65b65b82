import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { SessionManager } from '../../src/session/sessionManager';
import { FIXTURES, ROOT } from './fixtures';

/** A real third-party server (gunicorn / uvicorn on a private unix socket: no TCP port to share;
 * a celery worker on a queue in a private folder). */
export interface WebServer {
  pid: number;
  socket: string;
  output: () => string;
  /** Live worker processes (children of the master), oldest first. */
  workers: () => number[];
  get: (urlPath: string) => Promise<number>;
  stop: () => Promise<void>;
}

const WEB = path.join(FIXTURES, 'web');
const BIN = path.join(ROOT, '.venv', 'bin');

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** Children of `pid`, from /proc (only this server's processes, never the whole machine's). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of safeList(`/proc/${pid}/task`)) {
    const text = safeRead(`/proc/${pid}/task/${task}/children`);
    out.push(...text.split(/\s+/).filter(Boolean).map(Number));
  }
  return out.filter(isAlive).sort((a, b) => a - b);
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** When a server serves: its socket exists (uvicorn: each spawned worker has also said it started). */
function serving(command: string, workers: number) {
  return (out: string, socket: string) => existsSync(socket)
    && (command !== 'uvicorn' || (out.match(/Application startup complete/g)?.length ?? 0) >= Math.max(1, workers - 1));
}

function start(command: string, args: string[], workers: number, ready = serving(command, workers)): Promise<WebServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pyflight-web-'));
  const socket = path.join(dir, 'app.sock');
  const child: ChildProcess = spawn(path.join(BIN, command), args.map((a) => a.replace('{socket}', socket)),
    { cwd: WEB, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYFLIGHT_TEST_DIR: dir } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const pid = child.pid!;
  const server: WebServer = {
    pid,
    socket,
    output: () => out,
    workers: () => childrenOf(pid),
    get: (urlPath) => new Promise((resolve, reject) => {
      const req = request({ socketPath: socket, path: urlPath, method: 'GET' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => { for (const w of childrenOf(pid)) process.kill(w, 'SIGKILL'); child.kill('SIGKILL'); }, 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return waitFor(`${command} to serve`, () => ready(out, socket) && (workers === 0 || childrenOf(pid).length >= workers), 60_000)
    .then(() => server, async (error: Error) => {
      await server.stop();
      throw new Error(`${error.message}\n${out}`);
    });
}

/** gunicorn with `workers` sync workers serving test/fixtures/web/flask_app.py; `children`: how many
 * children to wait for (more than the workers when a config forks a helper: `-c gunicorn_helper_conf.py`). */
export function startGunicorn(workers = 2, extraArgs: string[] = [], children = workers): Promise<WebServer> {
  return start('gunicorn', ['-w', String(workers), '--no-control-socket', '--graceful-timeout', '20', '-b', 'unix:{socket}', ...extraArgs, 'flask_app:app'],
    children);
}

/** uvicorn serving test/fixtures/web/fastapi_app.py: one process, or a master with `workers`
 * spawned worker processes (and multiprocessing's resource tracker, a child that is not a worker). */
export function startUvicorn(workers = 0): Promise<WebServer> {
  return start('uvicorn', [...(workers ? ['--workers', String(workers)] : []), '--uds', '{socket}', 'fastapi_app:app'], workers ? workers + 1 : 0);
}

/** A celery worker master with `workers` prefork workers, serving test/fixtures/web/celery_app.py
 * on the filesystem broker (a queue in its private folder); `send(n)` queues n fingerprint jobs. */
export function startCelery(workers = 2): Promise<WebServer & { send: (jobs: number) => Promise<void> }> {
  return start('celery', ['-A', 'celery_app', 'worker', '--pool', 'prefork', '--concurrency', String(workers), '--loglevel', 'INFO', '--without-heartbeat',
    '--without-mingle', '--without-gossip'], workers, (out) => /celery@\S+ ready\./.test(out)).then((server) => ({
    ...server,
    send: (jobs: number) => new Promise<void>((resolve, reject) => {
      const sender = spawn(path.join(BIN, 'python'), ['celery_app.py', 'send', String(jobs)],
        { cwd: WEB, stdio: 'ignore', env: { ...process.env, PYFLIGHT_TEST_DIR: path.dirname(server.socket) } });
      sender.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`celery_app.py send exited ${code}`))));
    }),
  }));
}

/** Flask's development server with its reloader (`flask run --debug`) serving flask_app.py: the
 * reloader process, whose one child (same command line) runs the app. */
export function startFlaskReloader(): Promise<WebServer> {
  return start('flask', ['--app', 'flask_app', 'run', '--debug', '--host', 'unix://{socket}'], 1,
    (out, socket) => existsSync(socket) && /Debugger is active/.test(out));
}

/** A real gunicorn master with `workers` sync workers and a SessionManager, for one suite; both ended after it. */
export function useGunicornWithManager(workers = 2): { readonly server: WebServer; readonly manager: SessionManager } {
  let server: WebServer | undefined;
  let manager: SessionManager | undefined;
  before(async () => {
    server = await startGunicorn(workers);
    manager = new SessionManager(silentLogger, () => ({ livenessIntervalMs: 200 }));
  });
  after(async () => {
    await manager?.dispose();
    await server?.stop();
  });
  return { get server() { return server!; }, get manager() { return manager!; } };
}
