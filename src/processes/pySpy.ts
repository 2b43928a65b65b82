/**
 * Where py-spy is: the tool PyFlight reads a process with from outside (CPU profiles, thread names,
 * a worker's main thread). Found next to the target's interpreter (flight-profiler depends on
 * py-spy, so it is installed in the target's environment), next to the interpreter it links to,
 * then on PATH.
 */
import { constants as fsConstants, promises as fs, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../common/errors';

/**
 * Where py-spy is looked for: next to the target's interpreter (flight-profiler depends on py-spy,
 * so it is installed in the target's environment), next to the interpreter it links to, then PATH.
 */
export function pySpyCandidates(python: string | undefined, envPath = process.env.PATH ?? ''): string[] {
  const exe = process.platform === 'win32' ? 'py-spy.exe' : 'py-spy';
  const dirs: string[] = [];
  if (python) {
    dirs.push(path.dirname(python));
    try {
      dirs.push(path.dirname(realpathSync(python)));
    } catch {
      // the interpreter path is not readable here; PATH still is
    }
  }
  dirs.push(...envPath.split(path.delimiter).filter(Boolean));
  return [...new Set(dirs.map((d) => path.join(d, exe)))];
}

export async function findPySpy(python: string | undefined, explicit?: string): Promise<string> {
  const candidates = explicit ? [explicit] : pySpyCandidates(python);
  for (const candidate of candidates) {
    try {
      await fs.access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  const where = explicit ? explicit : python ? `next to ${python} (${path.dirname(python)}) or on PATH` : 'on PATH';
  throw new PyFlightError(ErrorCode.ProfilerNotInstalled, `py-spy was not found ${where}.`,
    python ? `Install it into the target's environment: ${python} -m pip install py-spy (flight-profiler depends on it), or put py-spy on PATH.`
      : 'Install it: pip install py-spy (flight-profiler depends on it), or put py-spy on PATH.',
    { tool: 'py-spy', looked: candidates, ...(python ? { python } : {}) });
}
