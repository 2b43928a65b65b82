// Targets in their own namespaces, as Docker and Kubernetes start them, started here with
// util-linux's unshare (the container lane and the interpreter matrix share these).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { FIXTURES, ROOT, VENV_PYTHON } from './fixtures';

export const isRoot = process.getuid?.() === 0;
export const hasUnshare = existsSync('/usr/bin/unshare') && existsSync('/usr/bin/nsenter');
/** Why namespaced targets cannot be started here, or undefined when they can. */
export const namespacesUnavailable = !isRoot ? 'starting namespaced targets with unshare needs root'
  : !hasUnshare ? 'util-linux unshare/nsenter are not installed' : undefined;

export interface NsTarget { pid: number; launcher: ChildProcess; output: () => string }
const started: NsTarget[] = [];

/** `unshare --fork --kill-child --pid --mount-proc`: a PID namespace with its own /proc. */
export const PID_NS_FLAGS = ['--fork', '--kill-child', '--pid', '--mount-proc'];

/**
 * `script` (busy_service.py unless said; run by `python`, the project venv's by default) under `unshare` with these
 * namespaces; `privateTmp` mounts a tmpfs on its /tmp (a container's or PrivateTmp's own /tmp).
 * Resolves with the python's host pid once it prints READY.
 */
export async function startNamespaced(flags: string[], privateTmp: boolean, python = VENV_PYTHON, script = 'busy_service.py'): Promise<NsTarget> {
  const argv = [python, script];
  // With a tmpfs on /tmp, a shell mounts it inside the new mount namespace, then becomes python.
  // A checkout under /tmp (a CI clone) would vanish under the tmpfs: it is bound back in through /mnt.
  const keep = ROOT.startsWith('/tmp/')
    ? ` && mkdir -p ${ROOT} && mount --bind /mnt/${ROOT.slice('/tmp/'.length)} ${ROOT} && umount /mnt` : '';
  const mountTmp = ROOT.startsWith('/tmp/') ? `mount --bind /tmp /mnt && mount -t tmpfs tmpfs /tmp${keep}` : 'mount -t tmpfs tmpfs /tmp';
  const command = privateTmp ? ['sh', '-c', `${mountTmp} && exec ${argv.join(' ')}`] : argv;
  const launcher = spawn('unshare', [...flags, '--propagation', 'private', ...command], { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  launcher.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  launcher.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const target: NsTarget = { pid: 0, launcher, output: () => out };
  started.push(target);
  // A bound on a start, not an assertion on how long it takes: a 2-core machine under load is slow.
  const end = Date.now() + 60_000;
  while (!/READY \d+/.test(out)) {
    if (launcher.exitCode !== null) throw new Error(`unshare exited ${launcher.exitCode}: ${out}`);
    if (Date.now() > end) throw new Error(`namespaced target not ready: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // With --fork the python is unshare's child; without, unshare (then sh) became the python.
  const children = readFileSync(`/proc/${launcher.pid}/task/${launcher.pid}/children`, 'utf8').trim();
  target.pid = flags.includes('--fork') ? Number(children.split(/\s+/)[0]) : launcher.pid!;
  assert.ok(readFileSync(`/proc/${target.pid}/cmdline`, 'utf8').includes(script));
  return target;
}

/** Kills every namespaced target started so far (call in afterEach / after). */
export function stopNamespaced(): void {
  for (const t of started.splice(0)) {
    if (t.pid) spawnSync('kill', ['-KILL', String(t.pid)]);
    t.launcher.kill('SIGKILL');
  }
}

/** The distinct agent library copies mapped in the process. */
export function agentCopies(pid: number): string[] {
  return [...new Set(readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.includes('flight_profiler_agent'))
    .map((l) => l.split(/\s+/).slice(5).join(' ')))];
}

/** {tid in the namespace: host tid} of the target's threads. */
export function nsTids(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of spawnSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number)) {
    const ns = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1].trim().split(/\s+/).map(Number);
    out.set(ns[ns.length - 1], tid);
  }
  return out;
}
