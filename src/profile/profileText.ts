/**
 * A CPU profile as readable text: a header, the hot functions of own code and libraries by self
 * time, and the hottest path. What `pyflight perf` prints and the cpu_profile tool answers (chat and
 * MCP): below both entries, so neither imports the other.
 */
import * as path from 'node:path';
import { cpuSamples, hotOwnAndLibrary, hottestPath, profileNote, type CallTreeNode, type CpuProfile, type FrameKind, type HotFunction } from './model';
import type { WorkerShare } from './profileStore';
import type { CpuProfileResult } from './record';

function pct(n: number): string {
  return `${n.toFixed(1)}%`;
}

/** A file as a reader wants it: relative to the cwd, after site-packages/, or whole. */
function shortFile(file: string | undefined, cwd = process.cwd()): string {
  if (!file) return '';
  if (file.startsWith(cwd + path.sep)) return path.relative(cwd, file);
  const site = /[\\/](site|dist)-packages[\\/]/.exec(file);
  if (site) return file.slice(site.index + site[0].length);
  return file;
}

function where(f: { file?: string; line?: number }): string {
  const file = shortFile(f.file);
  return file ? `${file}${f.line !== undefined ? `:${f.line}` : ''}` : '(native)';
}

/** Self samples per kind, e.g. "stdlib 3.1%, native 0.4%". */
export function kindSummary(profile: CpuProfile, kinds: FrameKind[]): string {
  const by = new Map<FrameKind, number>();
  for (const f of profile.hot) by.set(f.kind, (by.get(f.kind) ?? 0) + f.self);
  return kinds.filter((k) => by.get(k)).map((k) => `${k} ${pct((by.get(k)! / profile.samples) * 100)}`).join(', ');
}

/** Where a function's self samples came from, in a profile of all workers: pids, most first. */
export type WorkerSamples = (f: HotFunction) => Array<{ pid: number; self: number }>;

/** Per function (name + file), the workers whose samples it has self time in. */
export function workerSamplesOf(workers: readonly WorkerShare[]): WorkerSamples {
  const by = new Map<string, Array<{ pid: number; self: number }>>();
  for (const w of workers) {
    for (const h of w.profile.hot) {
      if (!h.self || h.kind === 'idle') continue;
      const key = `${h.function}\0${h.file ?? ''}`;
      by.set(key, [...(by.get(key) ?? []), { pid: w.pid, self: h.self }]);
    }
  }
  return (f) => [...(by.get(`${f.function}\0${f.file ?? ''}`) ?? [])].sort((a, b) => b.self - a.self || a.pid - b.pid);
}

/** The table of hot functions, what is elsewhere and the hottest path; with `workers`, a column of the workers each was found in. */
export function profileLines(profile: CpuProfile, top: number, workers?: WorkerSamples): string[] {
  const lines: string[] = [];
  const note = profileNote(profile);
  if (note) lines.push(note);
  if (!profile.samples) {
    lines.push('No samples: every thread was idle (add --idle to include waiting threads).');
    return lines;
  }
  const hot = hotOwnAndLibrary(profile).filter((f) => f.self > 0).slice(0, top);
  lines.push('', 'Hot functions (own code and libraries), by self time:');
  const rows: string[][] = [['self', 'total', 'samples', 'function', ...(workers ? ['workers'] : []), 'where']];
  for (const f of hot) {
    rows.push([pct(f.selfPercent), pct(f.totalPercent), String(f.self), f.function,
      ...(workers ? [workers(f).map((w) => w.pid).join(' ')] : []), where(f) + (f.kind === 'library' ? ' [library]' : '')]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const row of rows) lines.push('  ' + row.map((cell, i) => (i < 3 ? cell.padStart(widths[i]) : i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
  if (!hot.length) lines.push('  (none: every sample is in the standard library, native code or waiting)');
  const others = kindSummary(profile, ['stdlib', 'native', 'idle']);
  if (others) lines.push(`  elsewhere (self): ${others}`);
  const hottest = hottestPath(profile);
  if (hottest.length) {
    lines.push('', 'Hottest path:');
    hottest.forEach((node: CallTreeNode, depth) => {
      lines.push(`  ${'  '.repeat(depth)}${node.name}  ${where(node)}  ${pct((cpuSamples(node) / profile.samples) * 100)}`);
    });
  }
  return lines;
}

export function flagsText(o: { native: boolean; idle: boolean; gil: boolean; nonblocking: boolean }): string {
  const flags = [o.native && 'native', o.idle && 'idle', o.gil && 'GIL only', o.nonblocking && 'nonblocking'].filter(Boolean);
  return flags.length ? ` (${flags.join(', ')})` : '';
}

/** The readable report: header, a top-N table of own and library functions by self time, the hottest path. */
export function perfText(result: CpuProfileResult, top = 15): string {
  const { profile } = result;
  return [`Process ${result.pid}: ${profile.samples} samples in ${(result.elapsedMs / 1000).toFixed(1)} s at ${result.rate} Hz`
    + `${flagsText(result)}, recorded with py-spy from outside.`, ...profileLines(profile, top)].join('\n');
}
