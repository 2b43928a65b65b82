/**
 * The CLI's session: attach for one command, run it, always detach. The subcommand modules get it
 * as a parameter typed `WithSession`.
 */
import type { Logger } from '../common/logger';
import { Session } from '../session/session';
import { numberOption, type ParsedArgs } from './args';

/** Attaches, runs `body`, and always detaches (also on Ctrl+C), so no helper or probe outlives the CLI. */
export async function withSession<T>(pid: number, args: ParsedArgs, log: Logger, body: (s: Session, stop: AbortSignal) => Promise<T>): Promise<T> {
  const session = new Session(pid, {
    log, attachTimeoutSeconds: numberOption(args, '--timeout'), livenessIntervalMs: 1000, allowCode: !args.flags.has('no-code'), // flags are kept without their dashes (args.ts)
    // The command typed needs the agent; say so, once, on stderr (stdout stays machine-readable).
    confirmAgentLoad: async (s) => {
      process.stderr.write(`pyflight: loading the PyFlightProfiler agent into ${s.label}; it stays until the process exits.\n`);
      return true;
    },
  });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await session.attach((message) => log.info(message), stop.signal);
    return await body(session, stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await session.detach();
  }
}

export type WithSession = typeof withSession;
