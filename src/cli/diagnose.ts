/**
 * `pyflight diagnose <pid> "<problem>" [--kind auto|<a kind of the playbook table>] [--budget S] [--no-agent] [--json]`: the
 * deterministic diagnosis (src/diagnose/engine.ts) as markdown, or the report as JSON. Steps go to
 * stderr as they happen; stdout has only the report. The pid of a gunicorn / uvicorn / celery master
 * diagnoses every worker and merges the evidence (src/diagnose/workers.ts).
 */
import type { Logger } from '../common/logger';
import { diagnose, type DiagnoseOptions } from '../diagnose/engine';
import { DIAGNOSE_KINDS, type DiagnoseKind } from '../diagnose/playbooks';
import { reportMarkdown, type DiagnosisReport } from '../diagnose/report';
import { diagnoseWorkers } from '../diagnose/workers';
import { serverWorkers } from '../processes/processLister';
import { SessionManager } from '../session/sessionManager';
import { numberOption, parsePid, usageError, type ParsedArgs } from './args';
import { cliSessionOptions, stopOnSignals, type WithSession } from './withSession';

export async function runDiagnose(args: ParsedArgs, log: Logger, withSession: WithSession): Promise<unknown> {
  const [pidText, ...words] = args.positional;
  const pid = parsePid(pidText);
  const kind = args.values.get('--kind') ?? 'auto';
  if (!(DIAGNOSE_KINDS as readonly string[]).includes(kind)) throw usageError(`--kind is ${DIAGNOSE_KINDS.join(', ')}.`);
  const budget = numberOption(args, '--budget');
  if (budget !== undefined && budget < 5) throw usageError('--budget is a number of seconds from 5.');
  const problem = words.join(' ');
  // --no-agent: read from outside only (py-spy, /proc); a kind that needs the agent is refused before anything loads.
  const options = { kind: kind as 'auto' | DiagnoseKind, budgetSeconds: budget, log, ...(args.flags.has('no-agent') ? { allowAgent: false } : {}) };
  const onStep = (step: string) => process.stderr.write(`pyflight: ${step}\n`);
  const report = (await serverWorkers(pid)).length
    ? await diagnoseMaster(pid, args, log, problem, options, onStep)
    : await withSession(pid, args, log, (session, stop) => diagnose(session, problem, { ...options, signal: stop }, onStep), { resultSaysDeath: true });
  if (report.targetExited) {
    // The report (what was gathered before) still goes to stdout; the failure to stderr and the exit status.
    process.exitCode = 1;
    process.stderr.write(`pyflight: ${report.targetExited.message}.\n`);
  }
  return args.flags.has('json') ? report : reportMarkdown(report);
}

/** Every worker of a master, attached read-only as one group, diagnosed and merged; all detached after. */
async function diagnoseMaster(master: number, args: ParsedArgs, log: Logger, problem: string, options: DiagnoseOptions,
  onStep: (step: string) => void): Promise<DiagnosisReport> {
  const sessionOptions = cliSessionOptions(args, 'worker ');
  const manager = new SessionManager(log, () => ({ ...sessionOptions, attachTimeoutSeconds: sessionOptions.attachTimeoutSeconds ?? 30 }));
  const stop = stopOnSignals();
  try {
    const group = await manager.attachWorkers(master, { pollMs: 0 });
    return await diagnoseWorkers({ pid: master, label: group.label }, group.workers, problem, { ...options, signal: stop.signal }, onStep);
  } finally {
    stop.release();
    await manager.dispose();
  }
}
