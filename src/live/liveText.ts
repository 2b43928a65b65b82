/** Text for Evaluate and Reload answers, shared by the CLI and the editor's messages (pure). */
import type { EvalResult, ReloadPlan } from '../protocol/helper';

/** The value as the REPL shows it (with what the code printed first), or the error. */
export function evalText(result: EvalResult): string {
  const printed = result.output ? result.output.replace(/\n$/, '') : '';
  const answer = result.ok ? (result.value ?? '') : (result.error ?? '').replace(/\n$/, '');
  return [printed, answer].filter(Boolean).join('\n');
}

/** One line for a notification: `int: 42`, `ZeroDivisionError: division by zero`, `SyntaxError: …`. */
export function evalSummary(result: EvalResult): string {
  if (result.ok) return result.value === null || result.value === undefined ? 'Done (statements, no value).' : `${result.type}: ${oneLine(result.value)}`;
  const lines = (result.error ?? '').trim().split('\n');
  return oneLine(lines[lines.length - 1] ?? 'failed');
}

function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat;
}

export function functionLabel(params: { module: string; class?: string; function: string }): string {
  return [params.module, params.class, params.function].filter(Boolean).join('.');
}

/** What a reload did, for the CLI and the log. */
export function reloadText(result: ReloadPlan, params: { module: string; class?: string; function: string }): string {
  const name = functionLabel(params);
  const head = !result.ok ? `Reload of ${name} refused: ${result.error}`
    : result.applied ? `Reloaded ${name} from ${result.file}.`
      : `${name} is unchanged: its source in ${result.file} compiles to the code already running.`;
  return [head, ...(result.warnings ?? []).map((w) => `warning: ${w}`)].join('\n');
}
