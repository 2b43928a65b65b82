/**
 * The diagnosis report: what `diagnose()` returns, what `pyflight diagnose --json` prints and what
 * the chat participant renders. Plain data, no vscode. Every finding comes from evidence gathered
 * during the run (stack samples, a CPU profile, a memory diff); nothing is inferred from names.
 */

export type Severity = 'critical' | 'high' | 'medium' | 'info';

export interface SourceLocation {
  function: string;
  file: string | null;
  line: number | null;
}

/**
 * What kind of evidence a finding rests on. The summary's words come from it (summaryFrom): lock
 * wording only for a lock, hang wording only for a deadlock or a stuck thread, the event loop only
 * when a loop callback was seen blocking it.
 */
export const FINDING_BASES = ['deadlock', 'lock', 'pool', 'event-loop', 'stuck', 'starved', 'cpu', 'gc', 'wait', 'module', 'nothing'] as const;
export type FindingBasis = (typeof FINDING_BASES)[number];

export interface Finding {
  title: string;
  /** What kind of evidence it rests on (hang and slow playbooks; the summary reads it). */
  about?: FindingBasis;
  severity: Severity;
  /** Where to look; null when the evidence names no place (e.g. a growing type). */
  location: SourceLocation | null;
  /** What was observed in this run, one fact per line. */
  evidence: string[];
  next_steps: string[];
  /** The view that shows the evidence: the stacks, the CPU profile, the memory diff. */
  view?: 'stacks' | 'profile' | 'memory';
  /** A memory finding about a Python class: its live instances can be listed (vmtool getInstances). */
  instances?: { module: string; class: string };
}

/** `Kind` is the playbook table's kinds (engine.ts's `Diagnosis`); this file stays below the table. */
export interface DiagnosisReport<Kind extends string = string> {
  pid: number;
  problem: string;
  kind: Kind;
  /** Why this kind: the problem's words, or what the first stack samples showed. */
  routedBy: string;
  summary: string;
  /** The culprit first. */
  findings: Finding[];
  /** The equivalent `pyflight` commands of what was run, to repeat by hand. */
  commands_run: string[];
  elapsedMs: number;
  /** The process exited during the diagnosis (the report says so first; the CLI exits 1). */
  targetExited?: { signal?: string; code?: number; message: string };
}

export const SEVERITY_RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, info: 3 };

/** `/a/b/checkout_service.py:33` → `checkout_service.py:33`. */
export function shortWhere(file: string | null | undefined, line?: number | null): string {
  if (!file) return '(unknown file)';
  const base = file.split(/[\\/]/).pop() ?? file;
  return line ? `${base}:${line}` : base;
}

/**
 * The summary, written from the first finding and only from it (issue 20, "one voice"); `lead` is
 * a playbook's verdict put before it ("Waiting, not computing"), for findings that do not carry one.
 */
/** A title continued after a colon: a plain word that opens it loses its capital ("The asyncio…" →
 * "the asyncio…"); a name (`Session.close`, `TinyMLP`) keeps it. */
function afterColon(title: string): string {
  return /^(The|A|An|Its|One|No|Every|All|Some|Threads|Most)\b/.test(title) ? title.charAt(0).toLowerCase() + title.slice(1) : title;
}

export function summaryFrom(findings: Finding[], lead?: string): string {
  const f = findings[0];
  if (!f) return lead ? `${lead}.` : 'Nothing stood out.';
  const title = lead ? `${lead}: ${afterColon(f.title)}` : f.title;
  switch (f.about) {
    case 'lock':
      return lead ? `${title}.` : `Threads wait on a lock: ${f.title}.`;
    case 'cpu':
      return `${lead ?? 'CPU-bound'}: ${f.title}${f.location ? `, at ${shortWhere(f.location.file, f.location.line)}` : ''}.`;
    case 'starved': {
      // Its title names the function its CPU goes to when the profile found one (slow.ts).
      if (f.location) return `${title}, at ${shortWhere(f.location.file, f.location.line)}.`;
      const runs = findings.find((x) => (x.about === 'cpu' || x.about === 'event-loop') && x.location);
      return `${title}.${runs?.location ? ` When it runs, its CPU goes mostly to ${runs.location.function} (${shortWhere(runs.location.file, runs.location.line)}).` : ''}`;
    }
    default:
      return `${title}.`;
  }
}

/**
 * Whether the chat offers to watch a finding's function: not a thread that is blocked or waits
 * there (a deadlock, a lock, a pool, a stuck thread, a loop asleep in a call): a watch of it records
 * nothing until it returns.
 */
export function offersWatch(f: Finding): boolean {
  return !(f.about === 'deadlock' || f.about === 'lock' || f.about === 'pool' || f.about === 'stuck' || f.about === 'wait'
    || (f.about === 'event-loop' && f.view === 'stacks'));
}

/** The report as markdown (the CLI without --json; the chat renders it piece by piece). */
export function reportMarkdown(report: DiagnosisReport): string {
  const lines = [`# Diagnosis (${report.kind}) of process ${report.pid}`, '', report.summary, '',
    `_Routed to **${report.kind}**: ${report.routedBy}._`];
  report.findings.forEach((f, i) => {
    lines.push('', ...findingMarkdown(f, i));
  });
  lines.push('', '## Commands run', '', ...report.commands_run.map((c) => `- \`${c}\``),
    '', `_${(report.elapsedMs / 1000).toFixed(1)} s, no language model involved._`);
  return lines.join('\n');
}

export function findingMarkdown(f: Finding, index: number): string[] {
  const lines = [`## ${index + 1}. ${f.title}`, '', `**${f.severity}**${f.location ? ` — \`${f.location.function}\` at ${locationText(f.location)}` : ''}`];
  if (f.evidence.length) lines.push('', 'Evidence:', ...f.evidence.map((e) => `- ${e}`));
  if (f.next_steps.length) lines.push('', 'Next steps:', ...f.next_steps.map((s) => `- ${s}`));
  return lines;
}

export function locationText(l: SourceLocation): string {
  return l.file ? `${l.file}${l.line ? `:${l.line}` : ''}` : '(unknown file)';
}
