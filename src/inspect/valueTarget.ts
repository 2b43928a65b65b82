/**
 * What a cursor in a Python file points at, for Inspect Value, the value hover and Show Live
 * Instances: a module global, a class attribute or a class. Pure: the caller passes the `def` /
 * `class` blocks open at the cursor (probes/probeTarget.ts `blocksAt`, shared with Watch).
 */
import { classBodyOf, functionOf, type Block } from '../probes/pythonSymbols';

/** A module global (`field`) or a class attribute (`class`, `field`), in the file's own module. */
export interface ValueAt {
  class?: string;
  field: string;
}

const KEYWORDS = new Set(['False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue', 'def', 'del',
  'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal', 'not', 'or', 'pass',
  'raise', 'return', 'try', 'while', 'with', 'yield', 'self', 'cls']);

/** Where the line's `#` comment starts (outside strings), or the line's length. */
function commentStart(line: string): number {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') return i;
  }
  return line.length;
}

/** The identifier under `character` and the simple name before its dot (`Order.TAX_RATE` → Order); none in a comment. */
export function wordAt(line: string, character: number): { word: string; qualifier?: string; start: number; end: number } | undefined {
  const ident = /[A-Za-z_][A-Za-z0-9_]*/g;
  for (let m = ident.exec(line); m; m = ident.exec(line)) {
    const start = m.index;
    const end = start + m[0].length;
    if (character < start || character > end) continue;
    if (start > commentStart(line)) return undefined;
    if (/\d/.test(line[start - 1] ?? '') || line.slice(0, start).split(/(?<!\\)["']/).length % 2 === 0) return undefined; // a number or a string
    const qualifier = /([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*$/.exec(line.slice(0, start))?.[1];
    return { word: m[0], qualifier, start, end };
  }
  return undefined;
}

/** Is `word` the target of an assignment on this line (`NAME = …`, `NAME: int = …`, `NAME += …`)? */
function assignedOn(line: string, word: string): boolean {
  return new RegExp(`^\\s*${word}\\s*(:[^=]*)?([-+*/%|&^@]|//|\\*\\*|<<|>>)?=(?!=)`).test(line);
}

/**
 * The value the cursor is on: `Cls.attr` / `self.attr` / `cls.attr` → class attribute; a name
 * assigned directly in a class body → class attribute; any other name → module global.
 */
export function valueAt(lines: readonly string[], line: number, character: number, chain: readonly Block[]): ValueAt | undefined {
  const text = lines[line] ?? '';
  const at = wordAt(text, character);
  if (!at || KEYWORDS.has(at.word)) return undefined;
  if (at.qualifier === 'self' || at.qualifier === 'cls') {
    const owner = functionOf(chain)?.class;
    return owner ? { class: owner, field: at.word } : undefined;
  }
  if (at.qualifier) return { class: at.qualifier, field: at.word };
  if (/^\s*(async\s+)?def\s|^\s*class\s/.test(text) && chain.some((b) => b.line === line)) return undefined; // a def or class name
  const body = classBodyOf(chain);
  if (body && assignedOn(text, at.word)) return { class: body, field: at.word };
  return { field: at.word };
}

/** Python's built-in functions and types: a name like `list` under the cursor is not a global of the file. */
const BUILTINS = new Set(('abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex '
  + 'delattr dict dir divmod enumerate eval exec filter float format frozenset getattr globals hasattr hash hex id input int isinstance '
  + 'issubclass iter len list locals map max memoryview min next object oct open ord pow print property range repr reversed round set '
  + 'setattr slice sorted staticmethod str sum super tuple type vars zip').split(' '));

/**
 * What Inspect Value (right-click, palette) reads: as valueAt, but a right-click on a line that
 * assigns a global or a class attribute, anywhere but on another readable name (on a builtin as
 * in `ROWS = list(range(n))`, a number, a string, the `=`, the comment), means the name assigned:
 * `list` is no module's global, and a right-click lands where it lands.
 */
export function inspectTargetAt(lines: readonly string[], line: number, character: number, chain: readonly Block[]): ValueAt | undefined {
  const what = valueAt(lines, line, character, chain);
  const builtin = what && !what.class && BUILTINS.has(what.field) && !moduleLevelNames(lines).has(what.field);
  if ((what && !builtin) || functionOf(chain)) return what && !builtin ? what : undefined;
  const text = lines[line] ?? '';
  const assigned = /^\s*([A-Za-z_]\w*)\s*(:[^=]*)?=(?!=)/.exec(text)?.[1];
  return assigned && !BUILTINS.has(assigned) && !KEYWORDS.has(assigned) ? valueAt(lines, line, text.indexOf(assigned), chain) : undefined;
}

/** Names the module itself assigns at top level or declares `global`: what a hover may ask the target about. */
export function moduleLevelNames(lines: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const line of lines) {
    const global = /^\s+global\s+([\w\s,]+)/.exec(line);
    if (global) for (const n of global[1].split(',')) names.add(n.trim());
    if (/^\s/.test(line)) continue;
    const target = /^([A-Za-z_][\w\s,]*?)\s*(:[^=]*)?([-+*/%|&^@]|\/\/|\*\*|<<|>>)?=(?!=)/.exec(line)
      ?? /^for\s+([\w\s,]+?)\s+in\s/.exec(line) ?? /^with\s.*\bas\s+([A-Za-z_]\w*)\s*:/.exec(line);
    if (target) for (const n of target[1].split(',')) if (/^[A-Za-z_]\w*$/.test(n.trim())) names.add(n.trim());
  }
  return names;
}

/** Top-level `class` names of the file. */
export function moduleClasses(lines: readonly string[]): Set<string> {
  return new Set(lines.map((l) => /^class\s+([A-Za-z_]\w*)/.exec(l)?.[1]).filter((n): n is string => Boolean(n)));
}

/**
 * The class the cursor names, for Show Live Instances: the word under the cursor when there is one
 * (a class header, a class used anywhere), else the class whose body or method the cursor is in.
 */
export function classAt(lines: readonly string[], line: number, character: number, chain: readonly Block[]): ValueAt | undefined {
  const at = wordAt(lines[line] ?? '', character);
  if (at && !KEYWORDS.has(at.word) && !/^\s*(async\s+)?def\s/.test(lines[line] ?? '')) {
    return at.qualifier ? { class: at.qualifier, field: at.word } : { field: at.word };
  }
  const owner = classBodyOf(chain) ?? functionOf(chain)?.class;
  return owner ? { field: owner } : undefined;
}
