/**
 * The chat's commands, read from the playbook table: `/diagnose` (auto) and one `/diagnose-<kind>`
 * per playbook, the `kind:` word of a prompt, and the follow-ups offered after a diagnosis.
 * vscode-free (unit-tested); chatParticipant.ts renders them.
 */
import { isDiagnoseKind, PLAYBOOKS, playbookFor, type DiagnoseKind } from './playbooks';
import type { FindingBasis } from './report';

/** The chat command that lets the problem's words and the evidence decide. */
export const AUTO_CHAT_COMMAND = {
  command: 'diagnose',
  description: 'Find why a process hangs, is slow or grows in memory, from its stacks, a CPU profile or a memory diff: /diagnose [pid] <problem>',
};

/** The kind each chat command asks for (`diagnose`: auto). */
export const CHAT_COMMAND_KINDS: Readonly<Record<string, DiagnoseKind | undefined>> = {
  [AUTO_CHAT_COMMAND.command]: undefined,
  ...Object.fromEntries(PLAYBOOKS.map((p) => [p.chat.command, p.kind])),
};

/** `1234 checkout is slow` → pid 1234 and the problem; `checkout is slow` → no pid. An optional `kind:<kind>` (or `--kind=<kind>`). */
export function parseDiagnosePrompt(prompt: string): { pid?: number; problem: string; kind?: DiagnoseKind } {
  let words = prompt.trim().split(/\s+/).filter(Boolean);
  let pid: number | undefined;
  if (words.length && /^\d+$/.test(words[0])) {
    pid = Number(words[0]);
    words = words.slice(1);
  }
  let kind: DiagnoseKind | undefined;
  words = words.filter((w) => {
    const m = /^(?:--kind[=:]|kind:)(\w+)$/.exec(w);
    if (!m || !isDiagnoseKind(m[1])) return true;
    kind = m[1];
    return false;
  });
  return { pid, problem: words.join(' '), kind };
}

/** What to ask next after a diagnosis of `kind` (of process `pid`, when known) whose first finding rests on `basis`. */
export function chatFollowups(kind: DiagnoseKind, pid?: number, basis?: FindingBasis): Array<{ prompt: string; command: string; label: string }> {
  return playbookFor(kind).followups.filter((f) => !f.fits || (basis !== undefined && f.fits.includes(basis))).map((f) => ({
    prompt: `${pid ? `${pid} ` : ''}${f.prompt}`,
    command: isDiagnoseKind(f.kind) ? playbookFor(f.kind).chat.command : AUTO_CHAT_COMMAND.command,
    label: f.label,
  }));
}
