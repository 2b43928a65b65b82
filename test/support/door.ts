// Tests that look inside PyFlight's agent: one of its in-target calls (python/pyflight_agent/door.py
// CALLS), made through its door by the helper's own code, as root or the target's user.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, VENV_PYTHON } from './fixtures';

/** The JSON result of in-target call `name` on the agent loaded in `pid` (throws if it fails). */
export function doorCall<T = unknown>(pid: number, name: string, ...args: unknown[]): T {
  const script = [
    'import json, sys',
    'from pyflight_helper.wire import find_door, call',
    'door = find_door(int(sys.argv[1]))',
    'assert door is not None, "no door in process %s" % sys.argv[1]',
    'print(json.dumps(call(door, sys.argv[2], *json.loads(sys.argv[3]), timeout=30)))',
  ].join('\n');
  const out = execFileSync(VENV_PYTHON, ['-c', script, String(pid), name, JSON.stringify(args)],
    { encoding: 'utf8', env: { ...process.env, PYTHONPATH: path.join(ROOT, 'python') }, timeout: 60_000 });
  return JSON.parse(out) as T;
}

/** Ids of the consoles open in the target's agent now (live_code.py). */
export function openConsoles(pid: number): string[] {
  return doorCall<{ result: string[] }>(pid, 'live.api', 'consoleList', {}).result;
}

/** Socket inodes the process holds (its /proc/<pid>/fd links `socket:[inode]`). */
export function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** TCP ports the process listens on, read in its own network namespace. */
export function listeningTcpPorts(pid: number): number[] {
  const inodes = socketInodes(pid);
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[3] === '0A' && inodes.has(cols[9])) ports.push(parseInt(cols[1].split(':')[1], 16));
    }
  }
  return ports;
}

/** setpriv's arguments to run a command as uid/gid 65534 (nobody) with no other groups. */
export const OTHER_USER = ['--reuid', '65534', '--regid', '65534', '--clear-groups'];

/**
 * A Python with flight-profiler that uid 65534 can run: a venv of Debian's python3.11 under .cache/
 * (the project's .venv uses pyenv's interpreter under /root, which other users cannot enter). Made once.
 */
export function otherUserPython(): string {
  const dir = path.join(ROOT, '.cache', 'venv-other-user');
  const python = path.join(dir, 'bin', 'python');
  if (!existsSync(path.join(dir, 'ready'))) {
    for (const [cmd, args] of [['/usr/bin/python3.11', ['-m', 'venv', '--clear', dir]],
      [python, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', 'flight-profiler==1.0.7', 'py-spy==0.4.3']],
      [python, ['-c', `open(${JSON.stringify(path.join(dir, 'ready'))}, 'w').close()`]]] as [string, string[]][]) {
      const run = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000 });
      if (run.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${run.stderr}`);
    }
  }
  return python;
}
