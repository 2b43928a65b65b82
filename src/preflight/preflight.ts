import { ErrorCode, PyFlightError } from '../common/errors';
import { localHost } from '../host/localHost';
import type { TargetHost } from '../host/targetHost';
import { looksLikePython, resolveInterpreter, type ResolvedInterpreter } from './interpreter';
import { checkPtracePermission, readPtraceEnvironment } from './permissions';
import { readTargetFacts, type TargetFacts } from './targetFacts';

export interface PreflightResult {
  facts: TargetFacts;
  interpreter: ResolvedInterpreter;
}

/**
 * Everything we can check before starting a helper: the PID exists, is Python, may be traced by
 * us, and its interpreter (with its environment) is found on this machine. Each failure is one
 * PyFlightError with a fix. Whether flight-profiler is importable is asked of the helper (`hello`).
 * `host`: where the target lives (a session's; a pid given on this machine by default).
 */
export async function preflight(pid: number, configuredPython?: string, host: TargetHost = localHost): Promise<PreflightResult> {
  const facts = await readTargetFacts(pid, host);
  if (process.platform === 'linux') checkPtracePermission(facts, await readPtraceEnvironment(host));
  if (!looksLikePython(facts)) {
    const what = facts.exe ?? facts.argv[0] ?? 'unknown program';
    throw new PyFlightError(ErrorCode.NotPython, `Process ${pid} is not a Python process (${what}).`,
      'Pick a process whose executable is python, e.g. from "PyFlight: Attach to Process…".');
  }
  const interpreter = await resolveInterpreter(facts, configuredPython || undefined);
  return { facts, interpreter };
}
