/**
 * flight-profiler's rendering of a value (`common/dumps.py`: 2-space indented, dict keys in double
 * quotes, objects as `Name({...})`) folded into a tree, as a debugger's Variables view shows one:
 * `limits` `{…} 2 items` → `orders` `3`. Pure. flight-profiler prints strings without escaping, so
 * a string with a newline spans lines: they are joined back into one leaf, shown with `\n`. Tolerant:
 * a line it cannot place stays a leaf, and the whole text is always one click away (document, copy).
 */
export interface ValueTreeNode {
  /** The dict key (without quotes), `[i]` for a list item, or the whole line. */
  label: string;
  /** The value on the line, `{…}` / `[…]` / `Order({…})` for containers. */
  value: string;
  children: ValueTreeNode[];
  /** The node's own lines, as rendered (what Copy puts on the clipboard). */
  text: string;
}

const OPENER = /(\{|\[|\(|set\()$/;
const CLOSER = /^[}\])]+\)?,?$/;

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** `"key": value` → [key, value]; keys are printed with `"…"` and no escaping. */
function splitKey(text: string): [string | undefined, string] {
  const m = /^"(.*?)": (.*)$/s.exec(text);
  return m ? [m[1], m[2]] : [undefined, text];
}

const clean = (line: string) => line.trim().replace(/,$/, '').trimEnd();

/** flight-profiler's mark for the middle of a long list or dict (it prints the first and last 10). */
const ELISION = '...';

/** Characters that would be invisible, reorder the text or break the row: shown as escapes (`\n`, `\u200b`). */
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
export function visible(text: string): string {
  return text.replace(HIDDEN, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** flight-profiler prints a string over 256 characters as its first 128, `...`, its last 128. */
const CUT_STRING = /^"[\s\S]{128}\.\.\.[\s\S]{128}"$/;
const CUT_NOTE = ' (longer: its middle is cut; Change Options… → -v shows it all)';
export function isCutString(value: string): boolean {
  return CUT_STRING.test(value);
}

/** Does this rendered line start a string that goes on past the end of the line? */
function opensString(line: string): boolean {
  const value = splitKey(clean(line))[1];
  return value.startsWith('"') && (value === '"' || !value.endsWith('"'));
}

/** The lines of a string printed with raw newlines, joined back into one line. */
function joinStrings(lines: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (opensString(line)) {
      let end = i + 1;
      while (end < lines.length && !/"\s*,?\s*$/.test(lines[end])) end++;
      if (end < lines.length) {
        line = lines.slice(i, end + 1).join('\n');
        i = end;
      }
    }
    joined.push(line);
  }
  return joined;
}

function parseRange(lines: string[], from: number, to: number): ValueTreeNode[] {
  const nodes: ValueTreeNode[] = [];
  let i = from;
  let item = 0;
  let elidedAt: number | undefined;
  while (i < to) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const own = indentOf(line);
    const text = clean(line);
    if (text === ELISION) {
      nodes.push({ label: '…', value: 'middle items not shown (Change Options… → -v shows them all)', children: [], text });
      elidedAt = nodes.length;
      i++;
      continue;
    }
    const [key, value] = splitKey(text);
    const label = key ?? `[${item}]`;
    item++;
    if (OPENER.test(text)) {
      let end = i + 1;
      while (end < to && (!lines[end].trim() || indentOf(lines[end]) > own)) end++;
      const closer = end < to && indentOf(lines[end]) === own && CLOSER.test(lines[end].trim()) ? clean(lines[end]) : '';
      const children = parseRange(lines, i + 1, end);
      const shown = `${value}…${closer}`;
      nodes.push({ label, value: `${shown}${children.length ? ` ${children.length} item${children.length === 1 ? '' : 's'}` : ''}`,
        children, text: lines.slice(i, closer ? end + 1 : end).map((l) => l.slice(Math.min(own, indentOf(l)))).join('\n').replace(/,\s*$/, '') });
      i = closer ? end + 1 : end;
      continue;
    }
    nodes.push({ label, value: visible(value) + (isCutString(value) ? CUT_NOTE : ''), children: [], text: value });
    i++;
  }
  // After the elision a list's indexes are unknown from the start, known from the end: -10 … -1.
  if (elidedAt !== undefined) {
    nodes.slice(elidedAt).forEach((n, j, tail) => { if (/^\[\d+\]$/.test(n.label)) n.label = `[${j - tail.length}]`; });
  }
  return nodes;
}

/**
 * The value's tree: its top level is one node per entry when the value is a container (the
 * container itself is the root the view already shows), else a single leaf.
 */
export function valueTree(rendered: string): ValueTreeNode[] {
  const lines = joinStrings(rendered.split('\n'));
  const [first] = lines;
  const closing = lines.length > 1 ? lines[lines.length - 1].trim() : '';
  if (lines.length > 2 && OPENER.test(first.trim()) && CLOSER.test(closing)) {
    return parseRange(lines, 1, lines.length - 1);
  }
  return parseRange(lines, 0, lines.length);
}

/** Is the rendering one scalar (a string with newlines too), shown on its row itself? */
export function isScalar(rendered: string): boolean {
  return joinStrings(rendered.split('\n')).length === 1;
}

/** One line for a whole value: `{"debug": False, "limits": {…}, …}` (for descriptions and hovers' titles). */
export function oneLine(rendered: string, max = 120): string {
  const flat = joinStrings(rendered.split('\n')).map((l) => l.replace(/\n/g, '\\n')).map((l) => l.trim()).join(' ').replace(/([[{(]) /g, '$1').replace(/ ([\]})])/g, '$1').replace(/,\s+/g, ', ');
  const shown = visible(flat);
  const note = isCutString(rendered) ? CUT_NOTE : '';
  return shown.length + note.length > max ? `${shown.slice(0, Math.max(max - note.length - 1, 20))}…${note}` : shown + note;
}
