/** The chat participant's text handling, vscode-free (unit-tested). */
import type { DiagnosisReport } from './report';

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
