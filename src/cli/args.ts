import { ErrorCode, PyFlightError } from '../common/errors';
import { PROBE_METHODS, probeKind, type ProbeLocation, type ProbeMethod, type ProbeParams } from '../probes/probeKinds';

/** Options that take a value (the probes' from their table, perf's); everything else starting with '-' is a flag. */
const VALUE_OPTIONS = new Set(['--timeout', '--expr', '-x', '-n', '-f', '-i', '-et', '-d',
  '--rate', '--speedscope', '--collapsed', '--worker', // perf (src/cli/perf.ts)
  '--limit', '--order', '--interval', // mem (src/cli/mem.ts)
  '--samples', '--max-seconds', '--sample', // mem holders, mem diff (src/cli/mem.ts)
  '--duration', '--take', '--hold', '--interval', '--max-threads', // gilstat (src/cli/gilstat.ts)
  '--kind', '--budget', // diagnose (src/cli/diagnose.ts)
  '--out', // torch (src/cli/torch.ts)
  ...PROBE_METHODS.flatMap((m) => Object.entries(probeKind(m).options).filter(([, spec]) => spec.kind !== 'flag').map(([flag]) => flag))]);

/** Options that take a value after one verb only (`-e` is watch's exception flag elsewhere). */
const VERB_VALUE_OPTIONS: Record<string, ReadonlySet<string>> = {
  vmtool: new Set(['-e', '-c', '-a']), // src/cli/vmtool.ts
  getglobal: new Set(['-e']),
};

export interface ParsedArgs {
  verb: string;
  positional: string[];
  /** Flags without their dashes (`json` for --json, `v` for -v). */
  flags: Set<string>;
  values: Map<string, string>;
  /** Every option as typed (`--json`, `-n`), flags and options with a value, for the verb's table (verbs.ts). */
  written: string[];
}

export const USAGE = `usage:
  pyflight processes [--all] [--json]
  pyflight check <pid> [--json]
  pyflight stack <pid> [--native] [--async] [--agent-threads] [--json]
  pyflight module <pid> <file> [--json]
  pyflight watch <pid> <module> [class] <method> [--expr E] [-x 1-4] [-e] [-n N] [-f F] [-r] [-v] [-nm nested] [--all-workers] [--json]
  pyflight trace <pid> <module> [class] <method> [-i ms] [-et ms] [-d depth] [-n N] [-f F] [-nm nested] [--all-workers] [--json]
  pyflight tt <pid> record <module> [class] <method> [-n N] [-f F] [-nm nested] [--json]
  pyflight getglobal <pid> <module> [class] <field> [-e|--expr E] [-x 1-6] [-r] [-v] [--json]
  pyflight globals <pid> <module> [--json]
  pyflight vmtool <pid> getInstances -c <module> <class> [-e E] [-n 1-1000] [-x 1-6] [-r] [-v] [--json]
  pyflight vmtool <pid> forceGc [--json]
  pyflight tt <pid> list|show <index> [-v]|replay <index> [-v]|delete <index>|delete --all [--json]
  pyflight tt <pid> -t <module> [class] <method> | -l | -i N [-v] [-p] | -d N | -da   (flight-profiler's syntax)
  pyflight mem summary <pid> [--limit N] [--order descending|ascending] [--sample N] [--max-seconds S] [--json]
  pyflight mem diff <pid> [--interval S] [--limit N] [--order growth|size] [--raw] [--sample N] [--max-seconds S] [--halves] [--json]
  pyflight mem holders <pid> <module> <Class|builtins type> [--samples 1-50] [--max-seconds 0.5-60] [--sliced] [--json]
  pyflight gc <pid> [-d seconds] [--json]   (the garbage collector's pauses, read from outside: nothing loads)
  pyflight gilstat <pid> [--duration seconds] [--take ms] [--hold ms] [--interval s] [--max-threads N] [--agent-threads] [--json]
  pyflight torch <pid> profile <module> [class] <method> [-nm nested] [--out DIR] [--json]
  pyflight torch <pid> memory --snapshot | --record <module> [class] <method> [--out DIR] [--json]
  pyflight eval <pid> "<expression>" [--json]   (runs code inside the process; exit 1 when it raised)
  pyflight reload <pid> <module> [class] <function> [--json]   (swaps in the function as the file on disk has it now)
  pyflight console <pid>   (a Python console inside the process; exit() or Ctrl+D ends it)
  pyflight diagnose <pid> "<problem>" [--kind auto|hang|slow|memory|exception|gil|torch] [--budget S] [--no-agent] [--json]
  pyflight mcp [--allow-agent] [--allow-code] [--list-tools]   (an MCP server on stdio for coding agents; see README)
  pyflight perf <pid> [-d seconds] [--rate Hz] [--native] [--idle] [--gil] [--nonblocking] [-n top] [--speedscope FILE] [--collapsed FILE] [--json]
  pyflight perf <master pid> --all-workers [--worker PID] [same options as perf]
options:
  --all-workers   watch/trace: <pid> is a gunicorn/uvicorn/celery master; every worker, later ones too,
                  records tagged with the worker's pid; -n counts per worker. perf: every worker profiled
                  at once, merged, with the workers each hot function ran in; --worker PID shows one of them.
  --timeout <s>   watch/trace/tt record: stop after s seconds; attach timeout otherwise.
  --no-agent      diagnose: from outside only, nothing loaded; a problem that needs the agent is refused (exit 1).
  --no-code       an agent this command loads refuses, by itself and for every client, anything that runs
                  code or changes the process: console, eval, reload, expressions, filters, replay, forceGc.
  --verbose       log to stderr.
  An option a command does not take is refused (exit 2).
notes:
  watch/trace/tt record: one line (trace: a call tree) per record, then an end line saying why it ended;
                  with --json one JSON line per record and an end line.
  tt show/replay: values are Python reprs, cut after 2,000 characters (-v: 200,000); a replay that raised
                  prints its record, says why on stderr and exits 1.
  diagnose:       --kind picks the playbook (auto: from the problem's words and what is seen); --budget S is
                  the whole diagnosis's time in seconds (default 30, at least 5); exit 1 when the process
                  died during it.
  processes:      Python processes (--all: every process), server masters followed by their workers.
  mcp:            read-only tools only unless --allow-agent (tools may load the agent; it is loaded with code
                  execution off) or --allow-code (the agent allows code too); --list-tools prints the tools.`;

export function usageError(message: string): PyFlightError {
  return new PyFlightError(ErrorCode.BadArgument, message, 'Run `pyflight --help` for usage.');
}

export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const written: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (VALUE_OPTIONS.has(arg) || VERB_VALUE_OPTIONS[positional[0]]?.has(arg)) {
      if (i + 1 >= argv.length) throw usageError(`${arg} needs a value.`);
      values.set(arg, argv[++i]);
      written.push(arg);
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      flags.add(arg.replace(/^--?/, ''));
      written.push(arg);
    } else {
      positional.push(arg);
    }
  }
  return { verb: positional.shift() ?? '', positional, flags, values, written };
}

export function parsePid(text: string | undefined): number {
  if (text === undefined) throw usageError('Missing <pid>.');
  if (!/^\d+$/.test(text) || Number(text) <= 0) {
    throw new PyFlightError(ErrorCode.BadArgument, `"${text}" is not a valid PID.`, 'A PID is a positive whole number, e.g. 12345.');
  }
  return Number(text);
}

export function numberOption(args: ParsedArgs, name: string, integer = false): number | undefined {
  const raw = args.values.get(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw usageError(`${name} takes ${integer ? 'a whole number' : 'a number'}, got "${raw}".`);
  }
  return value;
}

/** `module [class] method` from 2 or 3 positional words. */
export function location(words: string[]): { module: string; class?: string; method: string } {
  if (words.length === 2) return { module: words[0], method: words[1] };
  if (words.length === 3) return { module: words[0], class: words[1], method: words[2] };
  throw usageError('A location is `module [class] name`, e.g. `__main__ Worker handle`.');
}

/** A probe's params: `module [class] method`, then the kind's options, as the editor's input box reads them (probes/probeKinds.ts). */
export function probeParams<M extends ProbeMethod>(method: M, words: string[], args: ParsedArgs): ProbeParams<M> {
  const params: ProbeLocation & Record<string, unknown> = { ...location(words) };
  for (const [flag, spec] of Object.entries(probeKind(method).options)) {
    if (spec.kind === 'flag') {
      if (args.flags.has(flag.replace(/^--?/, ''))) params[spec.key] = true;
    } else if (args.values.has(flag)) {
      params[spec.key] = spec.kind === 'string' ? args.values.get(flag) : numberOption(args, flag, spec.kind === 'int');
    }
  }
  // Checked option by option above; the helper validates again with flight-profiler's parsers.
  return params as ProbeParams<M>;
}
