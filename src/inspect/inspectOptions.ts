/**
 * The options of a value or an instance listing as the user edits them, in flight-profiler's own
 * spelling: `-x 2 -e "len(target)" -r -v` (getglobal) and `-n 10 -x 1 -e "len(instances)" -r -v`
 * (vmtool). Pure; the helper validates again.
 */
import { tokenize } from '../probes/probeOptions';

export interface InspectOptions {
  expand?: number;
  expr?: string;
  raw?: boolean;
  verbose?: boolean;
  /** vmtool only: instances rendered one by one */
  limit?: number;
}

const RANGES = { '-x': [1, 6], '-n': [1, 1000] } as const;

/** Throws an Error whose message the input box shows. */
export function parseInspectOptions(text: string, kind: 'value' | 'instances'): InspectOptions {
  const tokens = tokenize(text);
  const options: InspectOptions = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === '-r' || token === '--raw') options.raw = true;
    else if (token === '-v' || token === '--verbose') options.verbose = true;
    else if (token === '-e' || token === '--expr') {
      if (i + 1 >= tokens.length) throw new Error(`${token} needs an expression.`);
      options.expr = tokens[++i];
    } else if (token === '-x' || (token === '-n' && kind === 'instances')) {
      const value = Number(tokens[++i]);
      const [low, high] = RANGES[token];
      if (!Number.isInteger(value) || value < low || value > high) throw new Error(`${token} takes a whole number from ${low} to ${high}.`);
      if (token === '-x') options.expand = value;
      else options.limit = value;
    } else {
      throw new Error(`Unknown option ${token}: use ${kind === 'instances' ? '-n N, ' : ''}-x N, -e "expression", -r, -v.`);
    }
  }
  return options;
}

export function formatInspectOptions(options: InspectOptions): string {
  return [options.limit !== undefined ? `-n ${options.limit}` : '', options.expand !== undefined ? `-x ${options.expand}` : '',
    options.expr ? `-e "${options.expr.replace(/"/g, '\\"')}"` : '', options.raw ? '-r' : '', options.verbose ? '-v' : ''].filter(Boolean).join(' ');
}
