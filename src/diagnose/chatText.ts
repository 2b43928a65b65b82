/** The chat participant's text handling, vscode-free (unit-tested). */
import type { DiagnoseKind } from './report';

/** Text from the target (type names, thread names) as literal markdown; `code spans` the engine wrote are kept. */
export function escapeMarkdown(text: string): string {
  return text.split(/(`[^`\n]+`)/).map((part, i) => (i % 2 ? part : part.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (c) => `\\${c}`))).join('');
}

/** `1234 checkout is slow` → pid 1234 and the problem; `checkout is slow` → no pid. An optional `kind:hang|slow|memory|torch`. */
export function parseDiagnosePrompt(prompt: string): { pid?: number; problem: string; kind?: DiagnoseKind } {
  let words = prompt.trim().split(/\s+/).filter(Boolean);
  let pid: number | undefined;
  if (words.length && /^\d+$/.test(words[0])) {
    pid = Number(words[0]);
    words = words.slice(1);
  }
  let kind: DiagnoseKind | undefined;
  words = words.filter((w) => {
    const m = /^(?:--kind[=:]|kind:)(hang|slow|memory|torch)$/.exec(w);
    if (m) kind = m[1] as DiagnoseKind;
    return !m;
  });
  return { pid, problem: words.join(' '), kind };
}
