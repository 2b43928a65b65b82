/**
 * `pyflight`: the headless command line, same engine as the extension and no `vscode` import.
 * JSON on stdout with --json; on failure {"error": {code, message, hint}} and a non-zero exit.
 */
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../common/errors';
import { silentLogger, streamLogger, type Logger } from '../common/logger';
import { formatStacks } from '../commands/stackFormat';
import { assertProfilerInstalled } from '../preflight/installProfiler';
import { preflight } from '../preflight/preflight';
import { HelperProcess } from '../helper/helperProcess';
import { listProcesses } from '../processes/processLister';
import { Session } from '../session/session';

const USAGE = `usage:
  pyflight processes [--json] [--all]
  pyflight check <pid> [--json]
  pyflight stack <pid> [--native] [--async] [--agent-threads] [--json]
  pyflight module <pid> <file> [--json]
options: --verbose (log to stderr), --timeout <seconds> (attach timeout, default 30)`;

interface Parsed {
  verb: string;
  positional: string[];
  flags: Set<string>;
  timeout: number;
}

function parseArgs(argv: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Set<string>();
  let timeout = 30;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--timeout') timeout = Number(argv[++i]);
    else if (arg.startsWith('--')) flags.add(arg.slice(2));
    else positional.push(arg);
  }
  if (!Number.isFinite(timeout) || timeout <= 0) throw usage('--timeout takes a number of seconds.');
  return { verb: positional.shift() ?? '', positional, flags, timeout };
}

function usage(message: string): PyFlightError {
  return new PyFlightError(ErrorCode.BadArgument, message, 'Run `pyflight --help` for usage.');
}

function parsePid(text: string | undefined): number {
  if (text === undefined) throw usage('Missing <pid>.');
  if (!/^\d+$/.test(text) || Number(text) <= 0) {
    throw new PyFlightError(ErrorCode.BadArgument, `"${text}" is not a valid PID.`, 'A PID is a positive whole number, e.g. 12345.');
  }
  return Number(text);
}

/** Attaches, runs `body`, and always detaches (also on Ctrl+C), so no helper outlives the CLI. */
async function withSession<T>(pid: number, args: Parsed, log: Logger, body: (s: Session) => Promise<T>): Promise<T> {
  const session = new Session(pid, { log, attachTimeoutSeconds: args.timeout, livenessIntervalMs: 0 });
  const abort = new AbortController();
  const onSignal = () => {
    abort.abort();
    void session.detach().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await session.attach((message) => log.info(message), abort.signal);
    return await body(session);
  } finally {
    await session.detach();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function run(args: Parsed, log: Logger): Promise<unknown> {
  const json = args.flags.has('json');
  switch (args.verb) {
    case 'processes': {
      const all = await listProcesses();
      const shown = args.flags.has('all') ? all : all.filter((p) => p.isPython);
      if (json) return shown;
      return shown.map((p) => `${String(p.pid).padStart(7)}  ${p.user.padEnd(10)} ${p.commandLine}`).join('\n');
    }
    case 'check': {
      const pid = parsePid(args.positional[0]);
      const { facts, interpreter } = await preflight(pid);
      const helper = new HelperProcess(interpreter.python, log);
      helper.start();
      try {
        const hello = await helper.request('hello', {});
        assertProfilerInstalled(hello, interpreter.python);
        const result = { pid, executable: facts.exe, interpreter: interpreter.python, interpreterSource: interpreter.source,
          pythonVersion: hello.python.version, flightProfilerVersion: hello.flightProfiler.version, ok: true };
        return json ? result : `Process ${pid} can be attached: Python ${result.pythonVersion} at ${result.interpreter} ` +
          `(from ${result.interpreterSource}), flight-profiler ${result.flightProfilerVersion}.`;
      } finally {
        await helper.stop();
      }
    }
    case 'stack': {
      const pid = parsePid(args.positional[0]);
      const result = await withSession(pid, args, log, (s) => s.stack({
        native: args.flags.has('native'), async: args.flags.has('async'), includeAgentThreads: args.flags.has('agent-threads'),
      }));
      return json ? result : formatStacks(result).trimEnd();
    }
    case 'module': {
      const pid = parsePid(args.positional[0]);
      const file = args.positional[1];
      if (!file) throw usage('Missing <file>.');
      const result = await withSession(pid, args, log, (s) => s.module(path.resolve(file)));
      return json ? result : result.module;
    }
    case '':
    case 'help':
      return USAGE;
    default:
      throw usage(`Unknown command "${args.verb}".`);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const log = argv.includes('--verbose') ? streamLogger((line) => process.stderr.write(line + '\n')) : silentLogger;
  try {
    const args = parseArgs(argv);
    const out = await run(args, log);
    process.stdout.write((typeof out === 'string' ? out : JSON.stringify(out, null, json ? undefined : 2)) + '\n');
  } catch (error) {
    const failure = PyFlightError.from(error);
    if (json) process.stdout.write(JSON.stringify({ error: failure.toJSON() }) + '\n');
    else process.stderr.write(`pyflight: ${failure.message}${failure.hint ? `\n  hint: ${failure.hint}` : ''}\n`);
    process.exitCode = failure.code === ErrorCode.BadArgument ? 2 : 1;
  }
}

void main();
