/**
 * A CPU profile of every worker of a pre-fork server at once: one py-spy recording per worker, all
 * in parallel with the same options and the same stop signal, merged into one profile; each
 * worker's own profile is kept too, for the per-worker filter. A worker that fails (exited, py-spy
 * refused) is reported with its error and no samples; the whole fails only when every worker did.
 */
import { PyFlightError } from '../common/errors';
import { CallTree } from './callTree';
import { buildProfile, profileOf, type ClassifyOptions, type CpuProfile } from './model';
import { sourceLineReader } from './sourceLines';
import { recordCpuProfile, type CpuProfileOptions, type CpuProfileResult, type ProfileTarget } from './record';
import type { WorkerShare } from './profileStore';

/** One profile from several workers' stacks (same stacks summed), and the samples of PyFlight's
 * threads each left out. */
export function mergeWorkerStacks(workers: ReadonlyArray<Pick<CpuProfile, 'stacks' | 'pyflightThreads'>>, classify: ClassifyOptions = {}): CpuProfile {
  const calls = new CallTree(classify);
  for (const w of workers) {
    for (const s of w.stacks) calls.addStack(s.frames, s.count);
    calls.pyflightThreads.absorb(w.pyflightThreads);
  }
  return profileOf(calls);
}

/** The profile to show for a filter: every worker's (`undefined`) or one worker's. */
export function profileForWorker(merged: CpuProfile, workers: readonly WorkerShare[], pid: number | undefined): CpuProfile {
  if (pid === undefined) return merged;
  return workers.find((w) => w.pid === pid)?.profile ?? buildProfile([]);
}

export interface WorkersProgress {
  merged: CpuProfile;
  workers: WorkerShare[];
  elapsedMs: number;
}

export interface WorkersProfileResult extends WorkersProgress {
  results: Map<number, CpuProfileResult>;
  rate: number;
}

export async function recordWorkersProfile(targets: readonly ProfileTarget[], options: CpuProfileOptions, signal?: AbortSignal,
  onProgress?: (progress: WorkersProgress) => void): Promise<WorkersProfileResult> {
  // The workers run the same code: one reader of its source lines (through the first worker's root).
  const classify = { workspaceRoots: options.workspaceRoots, ...(targets.length ? { lineText: sourceLineReader(targets[0]) } : {}) };
  const started = Date.now();
  const latest = new Map<number, CpuProfile>(targets.map((t) => [t.pid, buildProfile([])]));
  const snapshot = (errors = new Map<number, string>()): WorkersProgress => {
    const workers = targets.map((t): WorkerShare => ({ pid: t.pid, profile: latest.get(t.pid)!, ...(errors.has(t.pid) ? { error: errors.get(t.pid) } : {}) }));
    return { merged: mergeWorkerStacks(workers.map((w) => w.profile), classify), workers, elapsedMs: Date.now() - started };
  };
  const settled = await Promise.allSettled(targets.map((t) => recordCpuProfile(t, options, signal, (p) => {
    latest.set(t.pid, p.profile);
    onProgress?.(snapshot());
  }).then((r) => { latest.set(t.pid, r.profile); return r; })));
  const results = new Map<number, CpuProfileResult>();
  const errors = new Map<number, string>();
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') results.set(targets[i].pid, s.value);
    else errors.set(targets[i].pid, PyFlightError.from(s.reason).message);
  });
  if (!results.size) {
    const first = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    throw first ? first.reason : new Error('No workers to profile.');
  }
  return { ...snapshot(errors), results, rate: [...results.values()][0].rate };
}
