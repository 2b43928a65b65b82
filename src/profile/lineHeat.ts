/**
 * A CPU profile in the editor: samples per source line (self: the line was executing; total: the
 * line was on the stack, e.g. a call site), turned into what the editor shows — an end-of-line
 * hint ("▮▮ 12% self") with a heat level for the line's background, and a CodeLens above hot
 * functions ("12% of CPU · open flame graph"). Pure: the editor part only applies these.
 */
import * as path from 'node:path';
import { parseFrame, type CpuProfile, type HotFunction } from './model';

export interface LineSamples {
  self: number;
  total: number;
}

/** file → line (1-based) → samples, for the files under `roots` only. */
export type LineHeat = Map<string, Map<number, LineSamples>>;

export function isUnder(file: string, roots: readonly string[]): boolean {
  return roots.some((root) => {
    const rel = path.relative(root, file);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  });
}

/** Samples per line from the profile's stacks: the leaf frame's line gets self, every frame's line
 * total (once per stack, so recursion does not count twice). Only files under `roots`. Samples that
 * wait (a sleep, a recv, a lock: waits.ts) are not CPU and heat no line. */
export function lineHeatOf(profile: CpuProfile, roots: readonly string[]): LineHeat {
  const heat: LineHeat = new Map();
  const parsed = new Map<string, { file: string; line: number } | null>();
  const frameOf = (text: string) => {
    let p = parsed.get(text);
    if (p === undefined) {
      const f = parseFrame(text);
      p = f.file && f.line !== undefined && isUnder(f.file, roots) ? { file: f.file, line: f.line } : null;
      parsed.set(text, p);
    }
    return p;
  };
  const at = (file: string, line: number): LineSamples => {
    let lines = heat.get(file);
    if (!lines) heat.set(file, lines = new Map());
    let s = lines.get(line);
    if (!s) lines.set(line, s = { self: 0, total: 0 });
    return s;
  };
  for (const stack of profile.stacks) {
    if (stack.idle) continue;
    const seen = new Set<string>();
    stack.frames.forEach((text, i) => {
      const f = frameOf(text);
      if (!f) return;
      const key = `${f.file}:${f.line}`;
      if (!seen.has(key)) {
        seen.add(key);
        at(f.file, f.line).total += stack.count;
      }
      if (i === stack.frames.length - 1) at(f.file, f.line).self += stack.count;
    });
  }
  return heat;
}

/** 1 (cool) … 4 (hottest), from a line's share of all samples. */
export type HeatLevel = 1 | 2 | 3 | 4;

export interface LineDecoration {
  /** 0-based, as the editor counts. */
  line: number;
  level: HeatLevel;
  /** The end-of-line hint: "▮▮ 12% self", or "38% total" on a line that only calls. */
  text: string;
  /** The hover: samples and percentages in full. */
  hover: string;
}

function pct(part: number, whole: number): string {
  const p = whole ? (100 * part) / whole : 0;
  return p >= 10 ? `${p.toFixed(0)}%` : `${p.toFixed(1)}%`;
}

function levelOf(fraction: number): HeatLevel {
  if (fraction >= 0.2) return 4;
  if (fraction >= 0.05) return 3;
  if (fraction >= 0.01) return 2;
  return 1;
}

export interface DecorationOptions {
  /** Lines below this share of all samples (self or total) get nothing. Default 0.5%. */
  minFraction?: number;
}

/** The decorations of one file: every line with at least `minFraction` of the samples, by line. */
export function lineDecorations(lines: ReadonlyMap<number, LineSamples> | undefined, totalSamples: number,
  options: DecorationOptions = {}): LineDecoration[] {
  if (!lines || totalSamples <= 0) return [];
  const min = options.minFraction ?? 0.005;
  const out: LineDecoration[] = [];
  for (const [line, s] of [...lines].sort((a, b) => a[0] - b[0])) {
    const selfFraction = s.self / totalSamples;
    const totalFraction = s.total / totalSamples;
    if (Math.max(selfFraction, totalFraction) < min) continue;
    const shown = s.self > 0 ? selfFraction : totalFraction;
    const level = levelOf(shown);
    const bars = '▮'.repeat(level);
    const text = s.self > 0
      ? `${bars} ${pct(s.self, totalSamples)} self${s.total > s.self ? ` · ${pct(s.total, totalSamples)} total` : ''}`
      : `${bars} ${pct(s.total, totalSamples)} total`;
    const hover = `CPU profile: line ${line} — self ${s.self} samples (${pct(s.self, totalSamples)}), `
      + `total ${s.total} samples (${pct(s.total, totalSamples)}) of ${totalSamples}`;
    out.push({ line: line - 1, level, text, hover });
  }
  return out;
}

const DEF = /^\s*(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(/;

/** The 0-based line of `def <name>` enclosing 1-based `line`: the nearest one above it (or at it). */
export function defLineOf(lines: readonly string[], functionName: string, line: number): number | undefined {
  const short = functionName.split('.').pop()!;
  for (let i = Math.min(line - 1, lines.length - 1); i >= 0; i--) {
    const m = DEF.exec(lines[i]);
    if (m && m[1] === short) return i;
  }
  return undefined;
}

export interface HotLens {
  /** 0-based line of the function's `def` (the CodeLens goes there). */
  line: number;
  function: string;
  /** "12% of CPU · open flame graph" */
  title: string;
  /** Share of all samples with the function on the stack. */
  fraction: number;
}

/** CodeLenses for the hot functions of one file: every function defined in it with at least
 * `minFraction` (default 2%) of the samples on its stack. */
export function hotLenses(hot: readonly HotFunction[], file: string, lines: readonly string[], totalSamples: number,
  minFraction = 0.02): HotLens[] {
  if (totalSamples <= 0) return [];
  const out: HotLens[] = [];
  for (const f of hot) {
    if (f.file !== file || f.line === undefined || f.function === '<module>' || f.kind === 'idle') continue;
    const fraction = f.total / totalSamples;
    if (fraction < minFraction) continue;
    const line = defLineOf(lines, f.function, f.line);
    if (line === undefined || out.some((l) => l.line === line)) continue;
    const self = f.self ? ` (${pct(f.self, totalSamples)} self)` : '';
    out.push({ line, function: f.function, fraction, title: `${pct(f.total, totalSamples)} of CPU${self} · open flame graph` });
  }
  return out.sort((a, b) => a.line - b.line);
}
