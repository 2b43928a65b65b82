/**
 * `pyflight perf <pid> [-d N] [--rate R] [--native] [--idle] [--gil] [--nonblocking] [-n TOP]
 * [--speedscope FILE] [--collapsed FILE] [--json]`: a CPU profile recorded with py-spy from
 * outside (no agent), as a top-N table and the hottest path, or JSON (samples, hot, tree).
 */
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { localHost } from '../host/localHost';
import { preflight } from '../preflight/preflight';
import { writeCollapsed, writeSpeedscope } from '../profile/export';
import { hotOwnAndLibrary, hottestPath, type CallTreeNode, type CpuProfile, type FrameKind } from '../profile/model';
import { recordCpuProfile, type CpuProfileResult } from '../profile/record';
import { numberOption, parsePid, type ParsedArgs } from './args';

/** The JSON `pyflight perf --json` prints. */
export function perfJson(result: CpuProfileResult): Record<string, unknown> {
  return {
    pid: result.pid, samples: result.profile.samples, rate: result.rate, chunks: result.chunks, elapsedMs: result.elapsedMs,
    native: result.native, idle: result.idle, gil: result.gil, end: result.end,
    hot: hotOwnAndLibrary(result.profile), tree: result.profile.tree,
  };
}

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
      lines.push(`  ${'  '.repeat(depth)}${node.name}  ${where(node)}  ${pct((node.total / profile.samples) * 100)}`);
    });
  }
  return lines.join('\n');
}

export async function runPerf(args: ParsedArgs, log: Logger): Promise<unknown> {
  const pid = parsePid(args.positional[0]);
  const json = args.flags.has('json');
  const duration = numberOption(args, '-d', true);
  const rate = numberOption(args, '--rate', true);
  const top = numberOption(args, '-n', true) ?? 15;
  let python: string | undefined;
  let script = 'python';
  try {
    const checked = await preflight(pid);
    python = checked.interpreter.python;
    script = checked.facts.argv.slice(1).find((a) => !a.startsWith('-'))?.split('/').pop() ?? script;
  } catch (error) {
    // py-spy needs no interpreter of ours: without one it is looked for on PATH.
    if (!(error instanceof PyFlightError) || error.code !== ErrorCode.InterpreterNotFound) throw error;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = !json && process.stderr.isTTY;
  if (duration === undefined) process.stderr.write(`pyflight: profiling process ${pid} until Ctrl+C…\n`);
  try {
    const result = await recordCpuProfile({ pid, host: localHost, ...(python ? { preflightResult: { interpreter: { python } } } : {}) },
      { durationSeconds: duration, rate, native: args.flags.has('native'), idle: args.flags.has('idle'), gil: args.flags.has('gil'),
        nonblocking: args.flags.has('nonblocking'), log },
      stop.signal,
      (p) => { if (tty) process.stderr.write(`\rpyflight: ${p.chunks} s, ${p.profile.samples} samples…`); });
    if (tty) process.stderr.write('\r\x1b[K');
    const name = `${script} (pid ${pid})`;
    const speedscope = args.values.get('--speedscope');
    const collapsed = args.values.get('--collapsed');
    if (speedscope) await writeSpeedscope(path.resolve(speedscope), result.profile, { name, rate: result.rate });
    if (collapsed) await writeCollapsed(path.resolve(collapsed), result.profile);
    if (result.end.reason === 'targetExited') {
      process.stderr.write(`pyflight: ${result.end.message}\n`);
      process.exitCode = 1;
    }
    const written = [speedscope && `speedscope: ${speedscope}`, collapsed && `collapsed stacks: ${collapsed}`].filter(Boolean);
    if (json) return { ...perfJson(result), ...(speedscope ? { speedscope: path.resolve(speedscope) } : {}), ...(collapsed ? { collapsed: path.resolve(collapsed) } : {}) };
    return perfText(result, top) + (written.length ? `\n\nWrote ${written.join(', ')}.` : '');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
