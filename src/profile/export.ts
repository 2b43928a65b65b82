/**
 * Exports of a CPU profile: speedscope's JSON file format (a "sampled" profile,
 * https://www.speedscope.app/file-format-schema.json) and collapsed stacks text (what py-spy's
 * `--format raw`, flamegraph.pl and most flame graph tools read). Pure, plus an atomic file write.
 */
import { writeFileAtomic } from '../common/atomicWrite';
import { parseFrame, type CollapsedStack, type CpuProfile } from './model';

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
