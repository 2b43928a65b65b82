/**
 * Exports of a CPU profile: speedscope's JSON file format (a "sampled" profile,
 * https://www.speedscope.app/file-format-schema.json) and collapsed stacks text (what py-spy's
 * `--format raw`, flamegraph.pl and most flame graph tools read). Pure, plus an atomic file write.
 */
import { writeFileAtomic } from '../common/atomicWrite';
import { parseFrame, type CallTreeNode, type CollapsedStack, type CpuProfile } from './model';

export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

export interface SpeedscopeFrame {
  name: string;
  file?: string;
  line?: number;
}

export interface SpeedscopeFile {
  $schema: typeof SPEEDSCOPE_SCHEMA;
  shared: { frames: SpeedscopeFrame[] };
  profiles: Array<{
    type: 'sampled';
    name: string;
    unit: 'seconds' | 'none';
    startValue: number;
    endValue: number;
    samples: number[][];
    weights: number[];
  }>;
  name: string;
  activeProfileIndex: number;
  exporter: string;
}

export interface SpeedscopeOptions {
  /** Profile name shown by speedscope, e.g. "cpu_service.py (pid 123)". */
  name: string;
  /** Samples per second; weights are then seconds (count / rate), else sample counts. */
  rate?: number;
}

/**
 * One sampled profile; every distinct stack is one sample weighted by its count (speedscope merges
 * them the same way in its Left Heavy and Sandwich views). Frames are py-spy's: one per function
 * and line, as py-spy's own speedscope output has them.
 */
export function toSpeedscope(profile: CpuProfile, options: SpeedscopeOptions): SpeedscopeFile {
  const frames: SpeedscopeFrame[] = [];
  const index = new Map<string, number>();
  const frameIndex = (text: string): number => {
    let i = index.get(text);
    if (i === undefined) {
      const parsed = parseFrame(text);
      frames.push({ name: parsed.name, ...(parsed.file ? { file: parsed.file } : {}), ...(parsed.line !== undefined ? { line: parsed.line } : {}) });
      index.set(text, i = frames.length - 1);
    }
    return i;
  };
  const ordered = [...profile.stacks].sort((a, b) => (a.frames.join(';') < b.frames.join(';') ? -1 : 1));
  const samples = ordered.map((s) => s.frames.map(frameIndex));
  const seconds = Boolean(options.rate && options.rate > 0);
  const weights = ordered.map((s) => (seconds ? s.count / options.rate! : s.count));
  const endValue = weights.reduce((a, b) => a + b, 0);
  return {
    $schema: SPEEDSCOPE_SCHEMA,
    shared: { frames },
    profiles: [{ type: 'sampled', name: options.name, unit: seconds ? 'seconds' : 'none', startValue: 0, endValue, samples, weights }],
    name: options.name,
    activeProfileIndex: 0,
    exporter: 'pyflight',
  };
}

/** `frame;frame;… count` per line, root first: the input py-spy produced, merged. */
export function toCollapsed(stacks: CollapsedStack[]): string {
  return stacks.map((s) => `${s.frames.join(';')} ${s.count}`).sort().join('\n') + (stacks.length ? '\n' : '');
}

export function writeSpeedscope(file: string, profile: CpuProfile, options: SpeedscopeOptions): Promise<void> {
  return writeFileAtomic(file, JSON.stringify(toSpeedscope(profile, options)));
}

export function writeCollapsed(file: string, profile: CpuProfile): Promise<void> {
  return writeFileAtomic(file, toCollapsed(profile.stacks));
}

/** Frame colours of the SVG, by kind (the panel's light-theme colours). */
const SVG_COLOURS: Record<CallTreeNode['kind'], string> = {
  own: '#d18616', library: '#3794ff', stdlib: '#b180d7', native: '#89d185', idle: '#bbbbbb',
};

function xml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/**
 * A static flame graph (roots at the bottom, as flamegraph.pl draws them) for reports and tickets:
 * frames narrower than `minWidth` px are left out; names and paths are escaped (they come from the
 * target) and shown whole in each frame's <title> tooltip.
 */
export function toSvg(profile: CpuProfile, options: { title: string; width?: number; minWidth?: number }): string {
  const width = options.width ?? 1200;
  const minWidth = options.minWidth ?? 0.5;
  const row = 17;
  const rects: string[] = [];
  let depthMax = 0;
  const total = profile.tree.total || 1;
  const walk = (node: CallTreeNode, x: number, depth: number) => {
    const w = (node.total / total) * width;
    if (w < minWidth) return;
    depthMax = Math.max(depthMax, depth);
    rects.push(`${x.toFixed(2)}|${w.toFixed(2)}|${depth}|${node.kind}|${xml(node.name)}|${xml(`${node.name}${node.file ? ` (${node.file}${node.line ? `:${node.line}` : ''})` : ''} — ${node.total} samples, ${((100 * node.total) / total).toFixed(2)}%`)}`);
    let childX = x;
    for (const child of node.children) {
      walk(child, childX, depth + 1);
      childX += (child.total / total) * width;
    }
  };
  walk(profile.tree, 0, 0);
  const height = (depthMax + 1) * row + 40;
  const body = rects.map((r) => {
    const [x, w, depth, kind, name, title] = r.split('|');
    const y = height - (Number(depth) + 1) * row - 4;
    const label = Number(w) > 35 ? `<text x="${(Number(x) + 3).toFixed(2)}" y="${y + 12}">${name.length * 7 > Number(w) - 6 ? name.slice(0, Math.max(Math.floor((Number(w) - 6) / 7) - 1, 1)) + '…' : name}</text>` : '';
    return `<g><title>${title}</title><rect x="${x}" y="${y}" width="${Math.max(Number(w) - 0.5, 0.5).toFixed(2)}" height="${row - 1}" fill="${SVG_COLOURS[kind as CallTreeNode['kind']]}"/>${label}</g>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="11">
<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${xml(options.title)} — ${profile.samples} samples</text>
${body.join('\n')}
</svg>
`;
}

export function writeSvg(file: string, profile: CpuProfile, title: string): Promise<void> {
  return writeFileAtomic(file, toSvg(profile, { title }));
}
