/**
 * What every playbook shares: the step callback, the options, the context a playbook runs in and
 * the shape of a row of the playbook table (playbooks.ts). Types only, and nothing here imports a
 * playbook, so the playbooks import from here and never from the engine or the table.
 */
import type { Logger } from '../common/logger';
import type { CpuProfileResult } from '../profile/record';
import type { ExceptionWindowResult, MemDiffResult, StackResult } from '../protocol/helper';
import type { RoutingFacts } from './quickEvidence';
import type { Finding, FindingBasis } from './report';

/** A line of progress ("Stack sample 3: …"): the CLI writes it to stderr, the chat shows it as progress. */
export type DiagnoseStep = (message: string) => void;

/** What a playbook is told by whoever asked for the diagnosis. */
export interface PlaybookOptions {
  signal?: AbortSignal;
  /** Folders of the user's own code, for the CPU profile's own/library split. */
  workspaceRoots?: string[];
  log?: Logger;
  /** The exception playbook's evidence: the exception window (default), or `watch` -e on profile candidates only. */
  exceptionMethod?: 'window' | 'watch';
}

/** Extra results for callers that can show them (the chat's flame graph button). */
export interface DiagnosisExtras {
  profile?: CpuProfileResult;
  stacks?: StackResult;
  memDiff?: MemDiffResult;
  exceptions?: ExceptionWindowResult;
}

/** Everything a playbook's `run` gets; `target` is what that playbook needs of a session. */
export interface PlaybookContext<Target> {
  target: Target;
  options: PlaybookOptions;
  onStep: DiagnoseStep;
  /** The equivalent `pyflight` commands of what was run; a playbook appends to it. */
  commands: string[];
  extras: DiagnosisExtras;
  /** Stack samples already taken to route the problem (reused, not taken again). */
  samples: StackResult[];
  /** Seconds left of the diagnosis's budget. */
  secondsLeft(): number;
}

export interface PlaybookOutcome {
  /** The culprit first. */
  findings: Finding[];
  /** Written from the first finding. */
  summary: string;
}

/** A follow-up the chat offers after a diagnosis: a playbook's chat command with a prompt. */
export interface Followup {
  /** The playbook it asks for (a kind of the table; a unit test checks). */
  kind: string;
  prompt: string;
  label: string;
  /** Offered only when the first finding rests on one of these (a GIL question does not fit a blocked event loop); always when absent. */
  fits?: readonly FindingBasis[];
}

/**
 * One rule of routing by quick evidence: `rank` orders the rules of all playbooks (lowest first);
 * `when` says, in words for the report, why the facts point to this playbook, or undefined.
 */
export interface EvidenceRule {
  rank: number;
  when(facts: RoutingFacts): string | undefined;
}

/** A row of the playbook table (the table fixes `Target` and reads the kinds from its rows). */
export interface Playbook<Target> {
  kind: string;
  /** The problem's words that name this kind ("hangs", "leak", …). */
  words: RegExp;
  /** Kinds this one is more specific than: "latency spikes" names gil and slow, and gil wins. */
  narrows?: readonly string[];
  /** Routing when the words do not decide. */
  evidence: readonly EvidenceRule[];
  /** The chat command (`/diagnose-hang`) and its description (package.json declares the same). */
  chat: { command: string; description: string };
  /** What the chat offers to ask next. */
  followups: readonly Followup[];
  /** Whether the chat offers to watch the first finding's function (not for a blocked function or a memory holder). */
  watchCulprit: boolean;
  /** Whether its evidence needs PyFlight's agent in the target; false: it reads from outside only (stacks, py-spy). */
  needsAgent: boolean;
  run(context: PlaybookContext<Target>): Promise<PlaybookOutcome>;
}
