/**
 * The text a user edits before a probe starts: the seed's own syntax, e.g.
 * `__main__ Worker handle --expr "args, return_obj" -x 2 -n 20 -f "args[0] > 3"`.
 * Pure: parsed here, validated again by the helper with flight-profiler's own parsers.
 */
import { probeKind, type ProbeMethod, type ProbeParams } from './probeKinds';

export interface Location {
  module: string;
  class?: string;
  method: string;
}

/** Splits on spaces, keeping "…" / '…' groups (backslash escapes the quote). */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i])) {
      i++;
      continue;
    }
    if (text[i] === '"' || text[i] === "'") {
      const quote = text[i++];
      let value = '';
      while (i < text.length && text[i] !== quote) {
        if (text[i] === '\\' && text[i + 1] === quote) i++;
        value += text[i++];
      }
      if (i >= text.length) throw new Error(`Unclosed ${quote} quote.`);
      i++;
      tokens.push(value);
      continue;
    }
    let word = '';
    while (i < text.length && !/\s/.test(text[i])) word += text[i++];
    tokens.push(word);
  }
  return tokens;
}

function quoteIfNeeded(value: string): string {
  return /^[^\s"']+$/.test(value) ? value : `"${value.replace(/"/g, '\\"')}"`;
}

export type ParamsOf<M extends ProbeMethod> = ProbeParams<M>;

/** Parses the editable text; throws an Error whose message is shown under the input box. */
export function parseProbeOptions<M extends ProbeMethod>(method: M, text: string): ParamsOf<M> {
  const tokens = tokenize(text);
  const words: string[] = [];
  const params: Record<string, unknown> = {};
  const { options, name } = probeKind(method);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const spec = options[token];
    if (!spec) {
      if (token.startsWith('-') && !/^-\d/.test(token)) throw new Error(`Unknown option ${token} for ${name}.`);
      words.push(token);
      continue;
    }
    if (spec.kind === 'flag') {
      params[spec.key] = true;
      continue;
    }
    const raw = tokens[++i];
    if (raw === undefined) throw new Error(`${token} needs a value.`);
    if (spec.kind === 'string') params[spec.key] = raw;
    else {
      const value = Number(raw);
      if (!Number.isFinite(value) || (spec.kind === 'int' && !Number.isInteger(value))) throw new Error(`${token} takes ${spec.kind === 'int' ? 'a whole number' : 'a number'}, got "${raw}".`);
      params[spec.key] = value;
    }
  }
  if (words.length < 2 || words.length > 3) throw new Error('Start with the location: module [class] method.');
  const location: Location = words.length === 2 ? { module: words[0], method: words[1] } : { module: words[0], class: words[1], method: words[2] };
  // Checked here option by option; the helper validates again with flight-profiler's parsers.
  return { ...location, ...params } as ParamsOf<M>;
}

/** The inverse, for the input box's initial value and for "Restart with same options". */
export function formatProbeOptions<M extends ProbeMethod>(method: M, params: ProbeParams<M>): string {
  const p: Record<string, unknown> = { ...params };
  const parts = [p.module, p.class, p.method].filter(Boolean).map(String);
  const seen = new Set<string>();
  const options = Object.entries(probeKind(method).options);
  for (const [flag, spec] of options) {
    if (seen.has(spec.key) || flag.startsWith('--') && options.some(([f, s]) => s.key === spec.key && !f.startsWith('--'))) continue;
    seen.add(spec.key);
    const value = p[spec.key];
    if (value === undefined || value === false || value === '') continue;
    parts.push(spec.kind === 'flag' ? flag : `${flag} ${spec.kind === 'string' ? quoteIfNeeded(String(value)) : value}`);
  }
  return parts.join(' ');
}
