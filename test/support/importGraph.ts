/**
 * The static import graph of src/ and webview/, read from the sources as text (no TypeScript
 * compiler in the test bundle). An import is "type-only" when `import type`, `export type`, or
 * every name in its braces is marked `type`: those are erased and load nothing at run time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface ImportEdge {
  /** Repository-relative, e.g. `src/session/session.ts`. */
  from: string;
  /** Repository-relative file, or the bare package name (`vscode`, `execa`). */
  to: string;
  typeOnly: boolean;
}

const CLAUSE = String.raw`(type\s+)?(\{[^}]*\}|\*\s+as\s+\w+|\w+(?:\s*,\s*(?:\{[^}]*\}|\*\s+as\s+\w+))?|\*)`;
const FROM = new RegExp(String.raw`^[ \t]*(import|export)\s+${CLAUSE}\s*from\s*['"]([^'"]+)['"]`, 'gm');
const BARE = /^[ \t]*import\s+['"]([^'"]+)['"]/gm;
const REQUIRE = /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

function resolveSpec(root: string, from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  const target = path.relative(root, path.resolve(root, path.dirname(from), spec));
  for (const candidate of [target, `${target}.ts`, path.join(target, 'index.ts')]) {
    try {
      if (readFileSync(path.join(root, candidate)) && !candidate.endsWith('/')) return candidate;
    } catch {
      // next candidate
    }
  }
  return target;
}

/** Every import of every .ts file under `dirs` (relative to `root`). */
export function importGraph(root: string, dirs: string[]): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const dir of dirs) {
    for (const entry of readdirSync(path.join(root, dir), { recursive: true })) {
      const file = path.join(dir, String(entry));
      if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
      const text = readFileSync(path.join(root, file), 'utf8');
      for (const m of text.matchAll(FROM)) {
        const braces = m[3].startsWith('{') ? m[3].slice(1, -1).split(',').map((s) => s.trim()).filter(Boolean) : [];
        const typeOnly = Boolean(m[2]) || (braces.length > 0 && braces.every((name) => name.startsWith('type ')));
        edges.push({ from: file, to: resolveSpec(root, file, m[4]), typeOnly });
      }
      for (const m of text.matchAll(BARE)) edges.push({ from: file, to: resolveSpec(root, file, m[1]), typeOnly: false });
      for (const m of text.matchAll(REQUIRE)) edges.push({ from: file, to: resolveSpec(root, file, m[1]), typeOnly: false });
    }
  }
  return edges;
}

/** Files `start` loads at run time, itself included (type-only imports load nothing). */
export function runtimeClosure(edges: ImportEdge[], start: string): Set<string> {
  const seen = new Set<string>([start]);
  const queue = [start];
  while (queue.length) {
    const file = queue.pop()!;
    for (const e of edges) {
      if (e.from === file && !e.typeOnly && !seen.has(e.to)) {
        seen.add(e.to);
        queue.push(e.to);
      }
    }
  }
  return seen;
}

/**
 * Groups of nodes that import each other in a circle (strongly connected components of more than one
 * node; Tarjan). `nodeOf` maps a file to its node (the file, or its folder); undefined leaves it out.
 */
export function circles(edges: ImportEdge[], nodeOf: (file: string) => string | undefined): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    const a = nodeOf(e.from);
    const b = nodeOf(e.to);
    if (a === undefined || b === undefined || a === b) continue;
    if (!next.has(a)) next.set(a, new Set());
    if (!next.has(b)) next.set(b, new Set());
    next.get(a)!.add(b);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of next.keys()) if (!index.has(v)) connect(v);
  return found;
}
