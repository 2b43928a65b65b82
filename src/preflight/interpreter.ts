import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../common/errors';
import { isPythonExecutable } from '../common/pythonExecutable';
import type { TargetFacts } from './targetFacts';

export interface ResolvedInterpreter {
  /** The path to run the helper with: same binary as the target, but inside its venv/conda env. */
  python: string;
  /** Why this candidate was chosen, for the log and the Sessions view. */
  source: 'setting' | 'argv' | 'VIRTUAL_ENV' | 'CONDA_PREFIX' | 'site-packages' | 'exe' | 'reader';
  /**
   * Set when `python` (pyflight.pythonPath, PYFLIGHT_PYTHON) is another environment of the target's
   * binary than the one the target runs in (this path): e.g. a venv made from Debian's python3 for
   * PyFlight's reading tools, beside a service on the system Python. It reads from outside; the
   * agent would import flight-profiler from the target's own environment, so it is not loaded.
   */
  targetPython?: string;
}

/** Same rule as the process picker (common/pythonExecutable.ts), or Python's site-packages mapped in. */
export function looksLikePython(facts: TargetFacts): boolean {
  return [facts.exe, facts.argv[0]].some((n) => !!n && isPythonExecutable(n)) || facts.sitePackages.length > 0;
}

interface Candidate {
  python: string;
  source: ResolvedInterpreter['source'];
}

/**
 * Candidates in order of how precisely they name the target's environment. /proc/<pid>/exe alone
 * is the base interpreter (a venv's python is a symlink), so it would lose the venv's
 * site-packages, where flight-profiler is installed.
 */
export function interpreterCandidates(facts: TargetFacts, configured?: string): Candidate[] {
  const out: Candidate[] = [];
  if (configured) out.push({ python: configured, source: 'setting' });
  const argv0 = facts.argv[0];
  if (argv0 && isPythonExecutable(argv0)) {
    if (argv0.includes('/')) {
      out.push({ python: path.resolve(facts.cwd ?? '/', argv0), source: 'argv' });
    } else if (facts.env.PATH) {
      for (const dir of facts.env.PATH.split(':').filter(Boolean)) out.push({ python: path.join(dir, argv0), source: 'argv' });
    }
  }
  if (facts.env.VIRTUAL_ENV) out.push({ python: path.join(facts.env.VIRTUAL_ENV, 'bin', 'python'), source: 'VIRTUAL_ENV' });
  if (facts.env.CONDA_PREFIX) out.push({ python: path.join(facts.env.CONDA_PREFIX, 'bin', 'python'), source: 'CONDA_PREFIX' });
  for (const site of facts.sitePackages) {
    out.push({ python: path.join(site, '..', '..', '..', 'bin', 'python'), source: 'site-packages' });
  }
  if (facts.exe) out.push({ python: facts.exe, source: 'exe' });
  return out;
}

async function realpathOrUndefined(file: string): Promise<string | undefined> {
  try {
    return await fs.realpath(file);
  } catch {
    return undefined;
  }
}

/** The environment an interpreter path belongs to: `/srv/app/venv` for `/srv/app/venv/bin/python`, `/usr` for `/usr/bin/python3`. */
function environmentOf(python: string): string {
  return path.dirname(path.dirname(path.normalize(python)));
}

async function firstOfBinary(candidates: Candidate[], target: string | undefined): Promise<string | undefined> {
  for (const candidate of candidates) {
    if (target && await realpathOrUndefined(candidate.python) === target) return candidate.python;
  }
  return undefined;
}

/** The first candidate that is the very same binary as the running target (flight-profiler requires it). */
export async function resolveInterpreter(facts: TargetFacts, configured?: string): Promise<ResolvedInterpreter> {
  const target = facts.exe ? await realpathOrUndefined(facts.exe) : undefined;
  const candidates = interpreterCandidates(facts, configured);
  for (const candidate of candidates) {
    const real = await realpathOrUndefined(candidate.python);
    if (!real) continue;
    if (!target || real === target) {
      const own = candidate.source === 'setting' ? await firstOfBinary(candidates.slice(1), target) : undefined;
      return { python: path.normalize(candidate.python), source: candidate.source,
        ...(own && environmentOf(own) !== environmentOf(candidate.python) ? { targetPython: path.normalize(own) } : {}) };
    }
    if (candidate.source === 'setting') {
      throw new PyFlightError(ErrorCode.VersionMismatch,
        `pyflight.pythonPath (${configured}) is not the interpreter process ${facts.pid} runs (${facts.exe}).`,
        "Clear the setting, or point it at the target's own interpreter.");
    }
  }
  throw new PyFlightError(ErrorCode.InterpreterNotFound,
    `Cannot find the interpreter of process ${facts.pid} (${facts.exe ?? 'unknown executable'}) on this machine.`,
    'If the process runs in a container, run VS Code inside it (Dev Containers); otherwise set pyflight.pythonPath.');
}
