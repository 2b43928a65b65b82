// The soak: many attach/detach and watch start/stop cycles on one target, then what is left —
// processes, file descriptors in this (extension-host-equivalent) process, probes in the target —
// and the watched function's cost before and after. Run by the faults lane (fewer cycles) and by
// `npm run bench -- soak` (bench/soak.mjs, the full 100 + 100).
import { readdirSync } from 'node:fs';
import { silentLogger } from '../../src/common/logger';
import { Session } from '../../src/session/session';
import { leftovers, type BeatingTarget } from './faults';

export interface SoakResult {
  attach_cycles: number;
  watch_cycles: number;
  orphan_processes: number;
  leaked_fds: number;
  probes_left: number;
  /** beat()'s cost after the soak / before it (1 = back to its original cost). */
  cost_ratio: number;
  seconds: number;
  orphans: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const openFds = () => readdirSync('/proc/self/fd').length;

/** beat()'s median cost over `ticks` fresh heartbeats (each the mean of that tick's 100 calls). */
async function beatCost(target: BeatingTarget, ticks = 20): Promise<number> {
  const seen: number[] = [];
  let last = -1;
  while (seen.length < ticks) {
    const hb = target.heartbeat();
    if (hb && hb.tick !== last) {
      last = hb.tick;
      seen.push(hb.cost_us);
    }
    await sleep(60);
  }
  return seen.sort((a, b) => a - b)[Math.floor(seen.length / 2)];
}

/** Waits (bounded by tries) for `check` to hold; returns its last value. */
async function settle<T>(read: () => T, ok: (v: T) => boolean, tries = 50): Promise<T> {
  let value = read();
  for (let i = 0; i < tries && !ok(value); i++) {
    await sleep(100);
    value = read();
  }
  return value;
}

export async function soak(target: BeatingTarget, cycles: { attach: number; watch: number }): Promise<SoakResult> {
  const started = Date.now();
  // One attach first, so lazily opened descriptors (module loads, the first child pipe) are in the baseline.
  const warm = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
  await warm.attach();
  await warm.loadAgent();
  await warm.detach();
  await settle(leftovers, (l) => l.length === 0);
  const fdsBefore = openFds();
  const costBefore = await beatCost(target);

  for (let i = 0; i < cycles.attach; i++) {
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 1000 });
    await session.attach();
    if (!(await session.call('stack', {})).threads.length) throw new Error(`cycle ${i}: no threads`);
    await session.detach();
  }

  const watcher = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 1000 });
  await watcher.attach();
  for (let i = 0; i < cycles.watch; i++) {
    const probe = watcher.startProbe('watch', { module: '__main__', method: 'beat', expr: 'return_obj', limit: 1_000_000 });
    await new Promise<void>((resolve) => probe.onDidRecord(() => resolve()));
    probe.stop();
    const summary = await probe.done;
    if (summary.reason !== 'stopped') throw new Error(`watch cycle ${i} ended ${summary.reason}`);
  }
  const probesInSession = watcher.probes.length;
  await watcher.detach();

  const orphans = await settle(leftovers, (l) => l.length === 0);
  const fdsAfter = await settle(openFds, (n) => n <= fdsBefore);
  const original = await settle(() => target.heartbeat()?.original, (o) => Boolean(o && Object.values(o).every(Boolean)));
  const costAfter = await beatCost(target);
  return {
    attach_cycles: cycles.attach,
    watch_cycles: cycles.watch,
    orphan_processes: orphans.length,
    leaked_fds: Math.max(0, fdsAfter - fdsBefore),
    probes_left: probesInSession + Object.values(original ?? {}).filter((o) => !o).length,
    cost_ratio: Number((costAfter / costBefore).toFixed(2)),
    seconds: Math.round((Date.now() - started) / 1000),
    orphans,
  };
}
