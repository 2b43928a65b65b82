/**
 * A CPU profile as readable text: a header, the hot functions of own code and libraries by self
 * time, and the hottest path. What `pyflight perf` prints and the cpu_profile tool answers (chat and
 * MCP): below both entries, so neither imports the other.
 */
import * as path from 'node:path';
import { cpuSamples, hotOwnAndLibrary, hottestPath, profileNote, type CallTreeNode, type CpuProfile, type FrameKind } from './model';
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

/** The readable report: header, a top-N table of own and library functions by self time, the hottest path. */
export function perfText(result: CpuProfileResult, top = 15): string {
  const { profile } = result;
  const flags = [result.native && 'native', result.idle && 'idle', result.gil && 'GIL only', result.nonblocking && 'nonblocking'].filter(Boolean);
  const lines = [`Process ${result.pid}: ${profile.samples} samples in ${(result.elapsedMs / 1000).toFixed(1)} s at ${result.rate} Hz` +
    `${flags.length ? ` (${flags.join(', ')})` : ''}, recorded with py-spy from outside.`];
  const note = profileNote(profile);
  if (note) lines.push(note);
  if (!profile.samples) {
    lines.push('No samples: every thread was idle (add --idle to include waiting threads).');
    return lines.join('\n');
  }
  const hot = hotOwnAndLibrary(profile).filter((f) => f.self > 0).slice(0, top);
  lines.push('', 'Hot functions (own code and libraries), by self time:');
  const rows: string[][] = [['self', 'total', 'samples', 'function', 'where']];
  for (const f of hot) rows.push([pct(f.selfPercent), pct(f.totalPercent), String(f.self), f.function, where(f) + (f.kind === 'library' ? ' [library]' : '')]);
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
  return lines.join('\n');
}
