// Tests that look inside PyFlight's agent: one of its in-target calls (python/pyflight_agent/door.py
// CALLS), made through its door by the helper's own code, as root or the target's user.
import { execFileSync } from 'node:child_process';
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
