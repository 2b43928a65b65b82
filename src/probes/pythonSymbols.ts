/**
 * Finds the function (and class) enclosing a line of Python source. Used when no language server
 * provides document symbols (e.g. no Python extension installed). Pure: indentation-based, which
 * is how Python itself nests `def` and `class` blocks.
 */
export interface EnclosingFunction {
  class?: string;
  method: string;
  /** A function defined inside `method` (flight-profiler's -nm), when the cursor is in one. */
  nested?: string;
  /** 0-based line of the `def` of `method`. */
  defLine: number;
}

const DEF = /^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(/;
const CLASS = /^(\s*)class\s+([A-Za-z_]\w*)\s*[(:]/;

/** One `def` or `class` header open at a line (outermost first in a chain). */
export interface Block {
  kind: 'def' | 'class';
  name: string;
  /** 0-based line of the header. */
  line: number;
}

const indentOf = (text: string) => text.length - text.trimStart().length;
const endsHeader = (text: string) => /:\s*(#.*)?$/.test(text);

/**
 * The header line when the cursor is on a later line of a `def`/`class` signature spread over
 * several lines (`def f(\n    a,\n):`): the closing line is indented like the header, not more.
 */
function signatureHeader(lines: readonly string[], cursorLine: number): number | undefined {
  const own = lines[cursorLine] ?? '';
  if (!own.trim() || DEF.test(own) || CLASS.test(own)) return undefined;
  for (let i = cursorLine - 1; i >= 0; i--) {
    const text = lines[i];
    if (!text.trim()) continue;
    if (indentOf(text) < indentOf(own)) return undefined;
    if (indentOf(text) === indentOf(own)) return (DEF.test(text) || CLASS.test(text)) && !endsHeader(text) ? i : undefined;
    if (endsHeader(text)) return undefined; // a body line ended the signature before the cursor
  }
  return undefined;
}

/** The `def` / `class` blocks open at `cursorLine`, outermost first (indentation, as Python nests them). */
export function enclosingBlocks(lines: readonly string[], cursorLine: number): Block[] {
  // Blocks open at the cursor: walk up, keeping each header whose indent is below all seen so far.
  const chain: Block[] = [];
  let limit = Infinity;
  for (let i = Math.min(cursorLine, lines.length - 1); i >= 0; i--) {
    if (!lines[i].trim() || lines[i].trimStart().startsWith('#')) continue;
    if (indentOf(lines[i]) < limit) i = signatureHeader(lines, i) ?? i; // `):` closing a signature: its header
    const text = lines[i];
    const indent = indentOf(text);
    const header = DEF.exec(text) ?? CLASS.exec(text);
    if (i === cursorLine && !header) {
      limit = indent; // the cursor's own statement: enclosing headers are indented less
      continue;
    }
    if (indent >= limit) continue;
    limit = indent;
    if (header) chain.unshift({ kind: DEF.test(text) ? 'def' : 'class', name: header[2], line: i });
    if (indent === 0) break;
  }
  return chain;
}

export function enclosingFunction(lines: readonly string[], cursorLine: number): EnclosingFunction | undefined {
  return functionOf(enclosingBlocks(lines, cursorLine));
}

/** The function (and its class, and a function nested in it) of a chain of open blocks. */
export function functionOf(chain: readonly Block[]): EnclosingFunction | undefined {
  const firstDef = chain.findIndex((b) => b.kind === 'def');
  if (firstDef < 0) return undefined;
  const owner = chain[firstDef - 1];
  const nested = chain.slice(firstDef + 1).find((b) => b.kind === 'def');
  return {
    class: owner?.kind === 'class' ? owner.name : undefined,
    method: chain[firstDef].name,
    nested: nested?.name,
    defLine: chain[firstDef].line,
  };
}

/**
 * The class whose body the cursor is directly in (no `def` between), as a dotted path for nested
 * classes (`Outer.Inner`); undefined at module level or inside a function.
 */
export function classBodyOf(chain: readonly Block[]): string | undefined {
  if (!chain.length || chain[chain.length - 1].kind !== 'class' || chain.some((b) => b.kind === 'def')) return undefined;
  return chain.map((b) => b.name).join('.');
}
