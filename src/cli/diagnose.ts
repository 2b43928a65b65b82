/**
 * `pyflight diagnose <pid> "<problem>" [--kind auto|<a kind of the playbook table>] [--budget S] [--json]`: the
 * deterministic diagnosis (src/diagnose/engine.ts) as markdown, or the report as JSON. Steps go to
 * stderr as they happen; stdout has only the report.
 */
import type { Logger } from '../common/logger';
import { diagnose } from '../diagnose/engine';
import { DIAGNOSE_KINDS, type DiagnoseKind } from '../diagnose/playbooks';
import { reportMarkdown } from '../diagnose/report';
import { numberOption, parsePid, usageError, type ParsedArgs } from './args';
import type { WithSession } from './withSession';

export async function runDiagnose(args: ParsedArgs, log: Logger, withSession: WithSession): Promise<unknown> {
  const [pidText, ...words] = args.positional;
  const pid = parsePid(pidText);
  const kind = args.values.get('--kind') ?? 'auto';
  if (!(DIAGNOSE_KINDS as readonly string[]).includes(kind)) throw usageError(`--kind is ${DIAGNOSE_KINDS.join(', ')}.`);
  const budget = numberOption(args, '--budget');
  if (budget !== undefined && budget < 5) throw usageError('--budget is a number of seconds from 5.');
  const problem = words.join(' ');
  const report = await withSession(pid, args, log, (session, stop) => diagnose(session, problem,
    { kind: kind as 'auto' | DiagnoseKind, budgetSeconds: budget, signal: stop, log },
    (step) => process.stderr.write(`pyflight: ${step}\n`)));
  return args.flags.has('json') ? report : reportMarkdown(report);
}
