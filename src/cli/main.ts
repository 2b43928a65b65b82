/**
 * `pyflight`: the headless command line, same engine as the extension and no `vscode` import.
 * JSON on stdout with --json; on failure {"error": {code, message, hint}} and a non-zero exit.
 */
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../common/errors';
import { silentLogger, streamLogger, type Logger } from '../common/logger';
import { formatStacks } from '../format/stackFormat';
import { HelperProcess } from '../helper/helperProcess';
import { localHost } from '../host/localHost';
import { assertProfilerInstalled } from '../preflight/installProfiler';
import { capabilityLines, untestedWarning } from '../preflight/capabilities';
import { preflight } from '../preflight/preflight';
import { listProcesses } from '../processes/processLister';
import { endText, mergeTraces, mergedLines, recordNoun, traceLines, ttDetailLines, ttLine, ttRaised, watchLine } from '../format/probeText';
import { probeKind, type ProbeMethod, type ProbeParams, type ProbeRecord } from '../probes/probeKinds';
import type { TraceRecord } from '../protocol/helper';
import { Session } from '../session/session';
import { SessionManager } from '../session/sessionManager';
import type { GroupProbe } from '../session/workerGroup';
import { location, numberOption, parseArgs, parsePid, probeParams, usageError, USAGE, type ParsedArgs } from './args';
import { cliPython, onStopSignals, withSession } from './withSession';
import { processTable } from './processTable';
import { checkOptions, verbUsage } from './verbs';
import { runPerf } from './perf';
import { runMem } from './mem';
import { runGilstat } from './gilstat';
import { gcWatchText } from '../diagnose/gcPauses';
import { runDiagnose } from './diagnose';
import { runTorch } from './torch';
import { runVmtool } from './vmtool';
import { valueDocument } from '../inspect/valueText';
import { runConsole, runEval, runReload } from './live';
import { consentFromFlags } from '../mcp/consent';
import { toolsMarkdown } from '../mcp/toolList';
import { version } from '../../package.json';

const write = (line: string) => process.stdout.write(line + '\n');

/** One record as text: a line per watch call / tt record, an indented call tree per trace. */
const RECORD_TEXT: { [M in ProbeMethod]: (record: ProbeRecord<M>, first: boolean) => string } = {
  watch: (record) => watchLine(record),
  ttRecord: (record) => ttLine(record),
  trace: (record, first) => (first ? '' : '\n') + traceLines(record).join('\n'),
};

/**
 * Streams one probe until its limit, Ctrl+C, --timeout, or the target exiting: readable lines, or
 * with --json one JSON line per record and an end line.
 */
async function streamProbe<M extends ProbeMethod>(session: Session, stop: AbortSignal, args: ParsedArgs, method: M,
  params: ProbeParams<M>): Promise<undefined> {
  const json = args.flags.has('json');
  const probe = session.startProbe(method, params);
  const traces: TraceRecord[] = [];
  probe.as('trace')?.onDidRecord((record) => traces.push(record));
  const text: (record: ProbeRecord<M>, first: boolean) => string = RECORD_TEXT[method];
  probe.onDidRecord((record) => {
    write(json ? JSON.stringify({ type: 'record', data: record }) : text(record, probe.count === 1));
  });
  const timeout = numberOption(args, '--timeout');
  const timer = timeout ? setTimeout(() => probe.stop(), timeout * 1000) : undefined;
  const onStop = () => probe.stop();
  stop.addEventListener('abort', onStop);
  session.onDidChangeState(() => probe.stop());
  try {
    const summary = await probe.done;
    if (json) {
      write(JSON.stringify({ type: 'end', data: summary }));
    } else {
      const merged = traces.length >= 2 ? mergeTraces(traces) : undefined;
      if (merged) write('\n' + mergedLines(merged, traces.length).join('\n'));
      write(`${traces.length ? '\n' : ''}${probeKind(method).name} ${probe.location}: ${endText(summary, recordNoun(method, params))}`);
    }
  } finally {
    if (timer) clearTimeout(timer);
    stop.removeEventListener('abort', onStop);
  }
  return undefined;
}

/**
 * One probe on every worker of a master (and on workers it starts meanwhile) until Ctrl+C,
 * --timeout, or every worker's probe has ended; one line per record, tagged with the worker.
 */
async function streamOnWorkers<M extends ProbeMethod>(masterPid: number, args: ParsedArgs, log: Logger, method: M,
  params: ProbeParams<M>): Promise<undefined> {
  const json = args.flags.has('json');
  const manager = new SessionManager(log, () => ({ livenessIntervalMs: 1000, allowCode: !args.flags.has('no-code') }));
  const stop = () => probes?.stop();
  let probes: GroupProbe<M> | undefined;
  const release = onStopSignals(stop);
  try {
    const group = await manager.attachWorkers(masterPid, { pollMs: 1000 });
    process.stderr.write(`pyflight: loading the PyFlightProfiler agent into the ${group.workers.length} workers of ${group.label} `
      + '(and workers it starts); it stays until each exits.\n');
    group.approveAgentLoad();
    probes = group.startProbe(method, params);
    const text: (record: ProbeRecord<M>, first: boolean) => string = RECORD_TEXT[method];
    let first = true;
    probes.onDidRecord(({ pid, record }) => {
      write(json ? JSON.stringify({ type: 'record', worker: pid, data: record }) : `[worker ${pid}] ${text(record, first)}`);
      first = false;
    });
    const timeout = numberOption(args, '--timeout');
    const timer = timeout ? setTimeout(stop, timeout * 1000) : undefined;
    await probes.done;
    if (timer) clearTimeout(timer);
    // The agent's argument string (an --expr can be long) once, not once per worker.
    const workers = [...probes.probes.entries()].map(([pid, p]) => {
      const { args: _args, ...summary } = p.summary ?? {};
      return { worker: pid, ...summary };
    });
    const args0 = [...probes.probes.values()].find((p) => p.summary)?.summary?.args;
    write(json ? JSON.stringify({ type: 'end', data: { workers, count: probes.count, ...(args0 !== undefined ? { args: args0 } : {}) } })
      : `${probeKind(method).name} on ${workers.length} workers of ${group.label}: ${probes.count} records`);
  } finally {
    release();
    await manager.dispose();
  }
  return undefined;
}

async function run(args: ParsedArgs, log: Logger): Promise<unknown> {
  checkOptions(args);
  const json = args.flags.has('json');
  const pidArg = () => parsePid(args.positional[0]);
  switch (args.verb) {
    case 'processes': {
      const all = await listProcesses();
      const shown = args.flags.has('all') ? all : all.filter((p) => p.isPython);
      if (json) return shown;
      return processTable(all, { showAllProcesses: args.flags.has('all'), now: Date.now() });
    }
    case 'check': {
      const pid = pidArg();
      const { facts, interpreter } = await preflight(pid, cliPython());
      const helper = new HelperProcess(interpreter.python, log, localHost);
      helper.start();
      try {
        const hello = await helper.request('hello', {});
        assertProfilerInstalled(hello, interpreter.python);
        const result = { pid, executable: facts.exe, interpreter: interpreter.python, interpreterSource: interpreter.source,
          pythonVersion: hello.python.version, flightProfilerVersion: hello.flightProfiler.version, ok: true,
          capabilities: hello.capabilities, ...(interpreter.targetPython ? { readsOnlyFromOutside: true, targetPython: interpreter.targetPython } : {}) };
        const warning = untestedWarning(hello.capabilities);
        return json ? result : [`Process ${pid} can be attached: Python ${result.pythonVersion} at ${result.interpreter} ` +
          `(from ${result.interpreterSource}), flight-profiler ${result.flightProfilerVersion}.`,
        ...(interpreter.targetPython ? [`It runs in another environment (${interpreter.targetPython}): PyFlight reads it from outside only `
          + '(stacks, CPU profiles, the hang and slow diagnoses) and does not load its agent.'] : []),
        ...(hello.capabilities ? capabilityLines(hello.capabilities) : []), ...(warning ? [warning] : [])].join('\n');
      } finally {
        await helper.stop();
      }
    }
    case 'stack': {
      const result = await withSession(pidArg(), args, log, (s) => s.call('stack', {
        native: args.flags.has('native'), async: args.flags.has('async'), includeAgentThreads: args.flags.has('agent-threads'),
      }));
      return json ? result : formatStacks(result).trimEnd();
    }
    case 'module': {
      const file = args.positional[1];
      if (!file) throw usageError('Missing <file>.');
      const result = await withSession(pidArg(), args, log, (s) => s.call('module', { file: path.resolve(file) }));
      return json ? result : result.module;
    }
    case 'watch':
    case 'trace': {
      const method = args.verb;
      const params = probeParams(method, args.positional.slice(1), args);
      if (args.flags.has('all-workers')) return streamOnWorkers(pidArg(), args, log, method, params);
      return withSession(pidArg(), args, log, (s, stop) => streamProbe(s, stop, args, method, params));
    }
    case 'tt':
      return runTt(args, log);
    case 'perf':
      return runPerf(args, log);
    case 'mem':
      return runMem(args, log, withSession);
    case 'gc': {
      const seconds = numberOption(args, '-d') ?? 10;
      if (!(seconds >= 1 && seconds <= 120)) throw usageError('-d is a number of seconds from 1 to 120.');
      const result = await withSession(pidArg(), args, log, (s, stop) => s.call('gcWatch', { seconds }, { signal: stop }));
      return json ? result : gcWatchText(result);
    }
    case 'gilstat':
      return runGilstat(args, log, withSession);
    case 'diagnose':
      return runDiagnose(args, log, withSession);
    case 'torch':
      return runTorch(args, log, withSession);
    case 'eval':
      return runEval(args, log, withSession);
    case 'reload':
      return runReload(args, log, withSession);
    case 'console':
      return runConsole(args, log, withSession);
    case 'getglobal': {
      const [pidText, ...words] = args.positional;
      const where = location(words);
      const params = { module: where.module, class: where.class, field: where.method, expr: args.values.get('--expr') ?? args.values.get('-e'),
        expand: numberOption(args, '-x', true), raw: args.flags.has('r'), verbose: args.flags.has('v') };
      const pid = parsePid(pidText);
      const result = await withSession(pid, args, log, (s) => s.getglobal(params));
      return json ? { pid, ...result } : valueDocument(result, pid).trimEnd();
    }
    case 'globals': {
      const [pidText, module] = args.positional;
      if (!module) throw usageError('Missing <module>, e.g. `pyflight globals <pid> __main__`.');
      const pid = parsePid(pidText);
      const result = await withSession(pid, args, log, (s) => s.call('listGlobals', { module }));
      return json ? { pid, ...result } : result.globals.map((g) => `${g.name}  ${g.kind === 'value' ? g.type : g.kind}${g.preview ? `  ${g.preview}` : ''}`).join('\n');
    }
    case 'vmtool':
      return runVmtool(args, log, withSession);
    case 'mcp':
      return runMcp(args, log);
    case '':
    case 'help':
      return USAGE;
    default:
      throw usageError(`Unknown command "${args.verb}".`);
  }
}

/**
 * `pyflight mcp`: the MCP server on stdio until the client goes away (stdout is the protocol; notices
 * and, with --verbose, the log go to stderr). `--list-tools` prints its tool list instead.
 */
async function runMcp(args: ParsedArgs, log: Logger): Promise<unknown> {
  if (args.flags.has('list-tools')) return toolsMarkdown();
  const stderr = (line: string) => process.stderr.write(line + '\n');
  // Without --verbose, still say on stderr when the agent is loaded and what failed.
  const mcpLog = log === silentLogger ? { ...silentLogger, warn: (m: string) => stderr(`pyflight mcp: ${m}`), error: (m: string | Error) => stderr(`pyflight mcp: ${m}`) } : log;
  // Required here, not imported above: the MCP SDK takes ~100 ms to load, which no other verb should pay.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { serveMcp } = require('../mcp/server') as typeof import('../mcp/server');
  await serveMcp({ consent: consentFromFlags(args.flags), log: mcpLog, version, notice: stderr });
  return undefined;
}

/**
 * flight-profiler's own tt syntax, as users paste it, mapped onto our verbs:
 * `-t module [class] method` → record, `-l` → list, `-i N [-x N]` → show, `-i N -p` → replay,
 * `-d N` → delete N, `-da` → delete all.
 */
function ttAlias(args: ParsedArgs, words: string[]): { action: string; rest: string[] } | undefined {
  if (args.flags.has('t')) return { action: 'record', rest: words };
  if (args.flags.has('l')) return { action: 'list', rest: [] };
  const index = args.values.get('-i');
  if (index !== undefined) return { action: args.flags.has('p') ? 'replay' : 'show', rest: [index] };
  if (args.flags.has('da')) return { action: 'delete', rest: ['--all'] };
  const del = args.values.get('-d');
  if (del !== undefined) return { action: 'delete', rest: [del] };
  return undefined;
}

async function runTt(args: ParsedArgs, log: Logger): Promise<unknown> {
  const [pidText, ...words] = args.positional;
  const pid = parsePid(pidText);
  const verbs = new Set(['record', 'list', 'show', 'replay', 'delete']);
  const { action, rest } = words.length && verbs.has(words[0]) ? { action: words[0], rest: words.slice(1) }
    : ttAlias(args, words) ?? { action: words[0], rest: words.slice(1) };
  const json = args.flags.has('json');
  const index = () => {
    if (!rest[0] || !/^\d+$/.test(rest[0])) throw usageError(`tt ${action} needs a record index, e.g. 1000.`);
    return Number(rest[0]);
  };
  switch (action) {
    case 'record': {
      const params = probeParams('ttRecord', rest, args);
      return withSession(pid, args, log, (s, stop) => streamProbe(s, stop, args, 'ttRecord', params));
    }
    case 'list': {
      const result = await withSession(pid, args, log, (s) => s.call('ttList', {}));
      return json ? result : result.records.length ? result.records.map(ttLine).join('\n') : 'No records.';
    }
    case 'show': {
      const detail = await withSession(pid, args, log, (s) => s.call('ttDetail', { index: index(), verbose: args.flags.has('v') }));
      return json ? detail : ttDetailLines(detail).join('\n');
    }
    case 'replay': {
      const original = index();
      const detail = await withSession(pid, args, log, (s) => s.call('ttReplay', { index: original, verbose: args.flags.has('v') }));
      if (detail.isException) {
        // The replay ran and raised: the record goes to stdout as for any replay, the failure and
        // its hint to stderr, and the exit status says it failed.
        process.exitCode = 1;
        process.stderr.write(`pyflight: replay #${detail.index} of #${detail.replayOf ?? original} raised ${ttRaised(detail)}` +
          `${detail.hint ? `\n  hint: ${detail.hint}` : ''}\n`);
      }
      return json ? detail : ttDetailLines(detail).join('\n');
    }
    case 'delete': {
      const all = args.flags.has('all') || rest[0] === '--all';
      const result = await withSession(pid, args, log, (s) => s.call('ttDelete', all ? { all: true } : { index: index() }));
      return json ? result : result.message;
    }
    default:
      throw usageError('tt takes record, list, show, replay or delete (or flight-profiler\'s -t, -l, -i N [-p], -d N, -da).');
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  if (argv.includes('--help') || argv.includes('-h')) {
    write(verbUsage(argv.find((a) => !a.startsWith('-'))));
    return;
  }
  const log = argv.includes('--verbose') ? streamLogger((line) => process.stderr.write(line + '\n')) : silentLogger;
  try {
    const out = await run(parseArgs(argv.filter((a) => a !== '--verbose')), log);
    if (out !== undefined) write(typeof out === 'string' ? out : JSON.stringify(out, null, json ? undefined : 2));
  } catch (error) {
    const failure = PyFlightError.from(error);
    if (json) write(JSON.stringify({ error: failure.toJSON() }));
    else process.stderr.write(`pyflight: ${failure.message}${failure.hint ? `\n  hint: ${failure.hint}` : ''}\n`);
    process.exitCode = failure.code === ErrorCode.BadArgument ? 2 : 1;
  }
}

void main();
