/**
 * flight-profiler's rendering of a value (`common/dumps.py`: 2-space indented, dict keys in double
 * quotes, objects as `Name({...})`) folded into a tree, as a debugger's Variables view shows one:
 * `limits` `{…} 2 items` → `orders` `3`. Pure. Tolerant: a line it cannot place (a string with a
 * newline in it) stays a leaf, and the whole text is always one click away (document, copy).
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

function parseRange(lines: string[], from: number, to: number): ValueTreeNode[] {
  const nodes: ValueTreeNode[] = [];
  let i = from;
  let item = 0;
  while (i < to) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const own = indentOf(line);
    const text = clean(line);
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
    nodes.push({ label, value, children: [], text: value });
    i++;
  }
  return nodes;
}

/**
 * The value's tree: its top level is one node per entry when the value is a container (the
 * container itself is the root the view already shows), else a single leaf.
 */
export function valueTree(rendered: string): ValueTreeNode[] {
  const lines = rendered.split('\n');
  const [first] = lines;
  const closing = lines.length > 1 ? lines[lines.length - 1].trim() : '';
  if (lines.length > 2 && OPENER.test(first.trim()) && CLOSER.test(closing)) {
    return parseRange(lines, 1, lines.length - 1);
  }
  return parseRange(lines, 0, lines.length);
}

/** One line for a whole value: `{"debug": False, "limits": {…}, …}` (for descriptions and hovers' titles). */
export function oneLine(rendered: string, max = 120): string {
  const flat = rendered.split('\n').map((l) => l.trim()).join(' ').replace(/([[{(]) /g, '$1').replace(/ ([\]})])/g, '$1').replace(/,\s+/g, ', ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
