/**
 * The CLI's session: attach for one command, run it, always detach. The subcommand modules get it
 * as a parameter typed `WithSession`.
 */
import { ErrorCode, PyFlightError } from '../common/errors';
import { silentLogger, type Logger } from '../common/logger';
import { ensureReader, readerPaths } from '../preflight/readerVenv';
import { Session } from '../session/session';
import { targetExitedError } from '../session/targetDeath';
import { numberOption, type ParsedArgs } from './args';

const SUBCOMMANDS = new Set(['summary', 'diff', 'holders', 'record', 'list', 'show', 'replay', 'delete', 'profile', 'memory', 'getInstances', 'forceGc']);

/** The command as typed, for messages: `gilstat`, `mem diff`, `tt record`. */
export function commandName(args: ParsedArgs): string {
  const sub = args.positional.slice(0, 2).find((word) => SUBCOMMANDS.has(word));
  return sub ? `${args.verb} ${sub}` : args.verb;
}

export interface WithSessionOptions {
  /**
   * The body's result says itself that the target died (a diagnosis report does): no
   * TARGET_EXITED after a body that returned. A body that throws still gets it.
   */
  resultSaysDeath?: boolean;
}

/**
 * Attaches, runs `body`, and always detaches (also on Ctrl+C), so no helper or probe outlives the CLI.
 * A target that exits once attached fails the command with TARGET_EXITED ("process 123 exited
 * during gilstat: killed by SIGSEGV while PyFlight was attached", src/session/targetDeath.ts),
 * whatever the body answered or threw meanwhile (an end line with reason `exited`, a refused
 * connection): the command did not do what was asked, and the process is gone.
 */
export async function withSession<T>(pid: number, args: ParsedArgs, log: Logger, body: (s: Session, stop: AbortSignal) => Promise<T>,
  options: WithSessionOptions = {}): Promise<T> {
  const session = new Session(pid, { log, ...cliSessionOptions(args, '') });
  const stop = stopOnSignals();
  let attached = false;
  try {
    await session.attach((message) => log.info(message), stop.signal);
    attached = true;
    const result = await body(session, stop.signal);
    const death = options.resultSaysDeath ? undefined : await session.checkDeath();
    if (death) throw targetExitedError(pid, death, commandName(args));
    return result;
  } catch (error) {
    const said = error instanceof PyFlightError && error.code === ErrorCode.TargetExited && error.details?.during;
    if (!attached || said) throw error;
    const death = await session.checkDeath().catch(() => undefined);
    throw death ? targetExitedError(pid, death, commandName(args)) : error;
  } finally {
    stop.release();
    await session.detach();
  }
}

export type WithSession = typeof withSession;

/**
 * What every CLI session is made with: --timeout, --no-code, and consent that says on stderr (stdout
 * stays machine-readable) that the agent is loading, once — the command typed needs it.
 */
export function cliSessionOptions(args: ParsedArgs, whose: string) {
  return {
    attachTimeoutSeconds: numberOption(args, '--timeout'), livenessIntervalMs: 1000, configuredPython: cliPython(),
    allowCode: !args.flags.has('no-code'), // flags are kept without their dashes (args.ts)
    // No flight-profiler in the process's environment: read it from outside with PyFlight's reader
    // of the same interpreter, built once (PYFLIGHT_READER=off refuses instead).
    readerFor: process.env.PYFLIGHT_READER === 'off' ? undefined : async (s: { pid: number }, python: string, signal?: AbortSignal) => {
      const { dir } = await readerPaths(python);
      process.stderr.write(`pyflight: flight-profiler is not in the environment ${whose}process ${s.pid} runs in (${python}): reading it from outside with PyFlight's reader environment of the same interpreter (${dir}; built once, nothing is installed where the process runs and nothing is loaded into it).\n`);
      return ensureReader(python, silentLogger, () => undefined, signal);
    },
    confirmAgentLoad: async (s: { label: string }) => {
      process.stderr.write(`pyflight: loading the PyFlightProfiler agent into ${whose}${s.label}; it stays until the process exits.\n`);
      return true;
    },
  };
}

/** PYFLIGHT_PYTHON: the CLI's pyflight.pythonPath (e.g. a venv of a system Python with PyFlight's reading tools). */
export function cliPython(): string | undefined {
  return process.env.PYFLIGHT_PYTHON || undefined;
}

/**
 * Ctrl+C and SIGTERM call `stop` (the work stops and everything detaches) until the returned release.
 * A second Ctrl+C while stopping does not kill the CLI half-way (the probe would stay in the process
 * until its helper noticed): it says what is happening; a third one quits at once (exit 130).
 */
export function onStopSignals(stop: () => void): () => void {
  let count = 0;
  const onSignal = () => {
    count++;
    if (count === 1) stop();
    else if (count === 2) process.stderr.write('pyflight: stopping — removing what was put into the process; Ctrl+C once more quits at once.\n');
    else process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** Ctrl+C and SIGTERM abort `signal` (see onStopSignals) until `release()`. */
export function stopOnSignals(): { signal: AbortSignal; release(): void } {
  const stop = new AbortController();
  return { signal: stop.signal, release: onStopSignals(() => stop.abort()) };
}
