/** The chat participant's text handling, vscode-free (unit-tested). */
import type { DiagnoseKind, DiagnosisReport } from './report';

/** The kind each chat command asks for (`diagnose`: auto). */
export const CHAT_COMMAND_KINDS: Record<string, DiagnoseKind | undefined> = {
  'diagnose': undefined,
  'diagnose-slow': 'slow',
  'diagnose-memory': 'memory',
  'diagnose-hang': 'hang',
  'diagnose-exception': 'exception',
  'diagnose-gil': 'gil',
  'diagnose-torch': 'torch',
};

/** `1234 checkout is slow` → pid 1234 and the problem; `checkout is slow` → no pid. An optional `kind:<kind>` (DIAGNOSE_KINDS). */
export function parseDiagnosePrompt(prompt: string): { pid?: number; problem: string; kind?: DiagnoseKind } {
  let words = prompt.trim().split(/\s+/).filter(Boolean);
  let pid: number | undefined;
  if (words.length && /^\d+$/.test(words[0])) {
    pid = Number(words[0]);
    words = words.slice(1);
  }
  let kind: DiagnoseKind | undefined;
  words = words.filter((w) => {
    const m = /^(?:--kind[=:]|kind:)(hang|slow|memory|exception|gil|torch)$/.exec(w);
    if (m) kind = m[1] as DiagnoseKind;
    return !m;
  });
  return { pid, problem: words.join(' '), kind };
}

/**
 * What the language model is told (chat refinement): the deterministic report as numbered evidence
 * it must cite, and what it may do with the tools. The report is already on screen.
 */
export function refinementPrompt(report: DiagnosisReport): string {
  const evidence: string[] = [];
  report.findings.forEach((f, i) => {
    evidence.push(`F${i + 1} [${f.severity}] ${f.title}${f.location?.file ? ` — ${f.location.function} at ${f.location.file}:${f.location.line ?? '?'}` : ''}`);
    f.evidence.forEach((e, j) => evidence.push(`  E${i + 1}.${j + 1} ${e}`));
  });
  return [
    `PyFlight diagnosed process ${report.pid} (${report.kind}; routed by ${report.routedBy}). Problem as the user put it: "${report.problem}".`,
    'The user has already seen this report. Evidence (cite it as [E1.2], findings as [F1]):',
    ...evidence,
    `Commands run: ${report.commands_run.join('; ')}`,
    '',
    `Explain in a few sentences what is wrong and what to change, citing the evidence. You may call the PyFlight tools (pid ${report.pid}) to check`
      + ' something the evidence does not settle; say what a tool showed. Do not state anything the evidence or a tool result does not show.',
  ].join('\n');
}
