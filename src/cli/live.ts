/**
 * `pyflight eval <pid> "<expr>"`, `pyflight reload <pid> <module> [class] <function>` and
 * `pyflight console <pid>`: code run inside the target (src/live, python/pyflight_helper/live_code.py).
 */
import { randomUUID } from 'node:crypto';
import * as readline from 'node:readline';
import type { Logger } from '../common/logger';
import { ConsoleController, consoleWarning } from '../live/consoleController';
import { evalText, reloadText } from '../live/liveText';
import { location, parsePid, usageError, type ParsedArgs } from './args';
import type { WithSession } from './withSession';

export async function runEval(args: ParsedArgs, log: Logger, withSession: WithSession): Promise<unknown> {
  const [pidText, expression, ...extra] = args.positional;
  const pid = parsePid(pidText);
  if (!expression || extra.length) throw usageError('eval takes one expression in quotes, e.g. `pyflight eval 1234 "len(cache)"`.');
  process.stderr.write(`pyflight: running code inside process ${pid}.\n`);
  const result = await withSession(pid, args, log, (s, stop) => s.call('eval', { expression }, { signal: stop }));
  if (!result.ok) process.exitCode = 1; // it ran and raised, or did not compile: the answer says which
  if (args.flags.has('json')) return result;
  if (!result.ok) {
    process.stderr.write(result.error ?? '');
    return result.output ? result.output.replace(/\n$/, '') : undefined; // what it printed before it failed
  }
  return evalText(result) || undefined;
}

export async function runReload(args: ParsedArgs, log: Logger, withSession: WithSession): Promise<unknown> {
  const [pidText, ...words] = args.positional;
  const pid = parsePid(pidText);
  const where = location(words);
  const params = { module: where.module, class: where.class, function: where.method };
  // Same source as flight-profiler's reload: the module's file as it is on disk now.
  const result = await withSession(pid, args, log, (s) => s.call('reloadApply', params));
  return args.flags.has('json') ? result : reloadText(result, params);
}

/** A plain stdin/stdout REPL on the same console the editor's terminal uses (node's readline edits lines). */
export async function runConsole(args: ParsedArgs, log: Logger, withSession: WithSession): Promise<unknown> {
  const pid = parsePid(args.positional[0]);
  return withSession(pid, args, log, async (session, stop) => {
    let done!: () => void;
    const finished = new Promise<void>((resolve) => { done = resolve; });
    const console = new ConsoleController(session, {
      write: (text) => process.stdout.write(process.stdout.isTTY ? text : text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')),
      closed: () => done(),
    });
    if (!process.stdin.isTTY) {
      // Piped input: one line each, no echo or prompts to redraw.
      process.stderr.write(consoleWarning(pid).replace(/\x1b\[[0-9;]*m/g, '') + '\n');
      const id = randomUUID();
      await session.call('consoleOpen', { id }, { signal: stop });
      // Created after the await: readline's async iterator drops lines emitted before it starts.
      const lines = readline.createInterface({ input: process.stdin });
      stop.addEventListener('abort', () => lines.close(), { once: true });
      try {
        for await (const line of lines) {
          // One controller per line (Ctrl+C interrupts that line); `stop` would collect a listener per line.
          const running = new AbortController();
          const interrupt = () => running.abort();
          stop.addEventListener('abort', interrupt, { once: true });
          const answer = await session.call('consoleInput', { id, line }, { signal: running.signal }).finally(() => stop.removeEventListener('abort', interrupt));
          process.stdout.write(answer.output);
          if (answer.closed) return undefined;
        }
      } finally {
        await session.call('consoleClose', { id }).catch(() => undefined);
      }
      return undefined;
    }
    process.stdin.setRawMode(true);
    process.stdin.setEncoding('utf8');
    const onData = (data: string) => console.input(data);
    process.stdin.on('data', onData);
    stop.addEventListener('abort', () => void console.close('Console closed.'), { once: true });
    try {
      await console.start();
      await finished;
    } finally {
      process.stdin.off('data', onData);
      process.stdin.setRawMode(false);
      process.stdin.pause();
      await console.close();
    }
    return undefined;
  });
}
