/**
 * Which options each `pyflight` verb takes: one table. An option a verb does not take is refused
 * (exit 2) instead of being ignored: `perf <master> --all-workers` once profiled only the idle
 * master and exited 0. `--verbose`, `--help` and `-h` are global. Probe options come from the
 * probe kinds' own table (probes/probeKinds.ts), so the editor's options box and the CLI agree.
 */
import { probeKind, type ProbeMethod } from '../probes/probeKinds';
import { usageError, USAGE, type ParsedArgs } from './args';

const JSON_OUT = '--json';
/** Every verb that attaches to the process: the attach timeout (watch / trace / tt record: also when to stop). */
const TIMEOUT = '--timeout';
/** Every verb that attaches: an agent it loads refuses code (withSession.ts). */
const NO_CODE = '--no-code';
const ATTACHED = [JSON_OUT, TIMEOUT, NO_CODE];
const probe = (m: ProbeMethod) => Object.keys(probeKind(m).options);

export const VERB_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  processes: ['--all', JSON_OUT],
  check: [JSON_OUT],
  stack: ['--native', '--async', '--agent-threads', ...ATTACHED],
  module: ATTACHED,
  watch: [...probe('watch'), '--all-workers', ...ATTACHED],
  trace: [...probe('trace'), '--all-workers', ...ATTACHED],
  'tt record': [...probe('ttRecord'), '-t', ...ATTACHED],
  'tt list': ['-l', ...ATTACHED],
  'tt show': ['-i', '-v', ...ATTACHED],
  'tt replay': ['-i', '-p', '-v', ...ATTACHED],
  'tt delete': ['-d', '-da', '--all', ...ATTACHED],
  getglobal: ['-e', '--expr', '-x', '-r', '-v', ...ATTACHED],
  globals: ATTACHED,
  'vmtool getInstances': ['-a', '-c', '-e', '-n', '-x', '-r', '-v', ...ATTACHED],
  'vmtool forceGc': ['-a', ...ATTACHED],
  'mem summary': ['--limit', '--order', '--sample', '--max-seconds', ...ATTACHED],
  'mem diff': ['--interval', '--limit', '--order', '--sample', '--max-seconds', '--halves', '--raw', ...ATTACHED],
  'mem holders': ['--samples', '--max-seconds', '--sliced', ...ATTACHED],
  gc: ['-d', ...ATTACHED],
  gilstat: ['--duration', '--take', '--hold', '--interval', '--max-threads', '--agent-threads', ...ATTACHED],
  'torch profile': ['-nm', '--out', ...ATTACHED],
  'torch memory': ['--snapshot', '--record', '-nm', '--out', ...ATTACHED],
  eval: ATTACHED,
  reload: ATTACHED,
  console: [TIMEOUT, NO_CODE],
  diagnose: ['--kind', '--budget', '--no-agent', ...ATTACHED],
  // perf records from outside (py-spy): nothing attaches, so no --timeout.
  perf: ['-d', '--rate', '--native', '--idle', '--gil', '--nonblocking', '-n', '--speedscope', '--collapsed', '--all-workers', '--worker', JSON_OUT],
  // The MCP server on stdio (src/mcp): what its clients may do, or its tool list.
  mcp: ['--allow-agent', '--allow-code', '--list-tools'],
  help: [],
};

const TT_ACTIONS = new Set(['record', 'list', 'show', 'replay', 'delete']);

/** The table's row for what was typed: the verb, or `verb action` for verbs whose action changes
 * the options; undefined when the action is unknown (the verb itself says what it takes). */
export function optionsKey(args: ParsedArgs): string | undefined {
  const [first, second] = args.positional;
  switch (args.verb) {
    case 'mem':
      return VERB_OPTIONS[`mem ${first}`] ? `mem ${first}` : undefined;
    case 'torch':
      return VERB_OPTIONS[`torch ${second}`] ? `torch ${second}` : undefined;
    case 'vmtool': {
      const action = args.values.get('-a') ?? second;
      return VERB_OPTIONS[`vmtool ${action}`] ? `vmtool ${action}` : undefined;
    }
    case 'tt': {
      if (TT_ACTIONS.has(second)) return `tt ${second}`;
      // flight-profiler's spelling: -t, -l, -i N [-p], -d N, -da.
      const w = args.written;
      const action = w.includes('-t') ? 'record' : w.includes('-l') ? 'list' : w.includes('-i') ? (w.includes('-p') ? 'replay' : 'show')
        : w.includes('-d') || w.includes('-da') ? 'delete' : undefined;
      return action && `tt ${action}`;
    }
    case '':
      return 'help';
    default:
      return VERB_OPTIONS[args.verb] ? args.verb : undefined;
  }
}

/** Refuses (BAD_ARGUMENT, exit 2) every option the verb does not take. */
export function checkOptions(args: ParsedArgs): void {
  const key = optionsKey(args);
  if (key === undefined) return;
  const allowed = VERB_OPTIONS[key];
  const wrong = args.written.filter((o) => !allowed.includes(o));
  if (!wrong.length) return;
  const takes = allowed.length ? `It takes ${allowed.join(', ')}.` : 'It takes no options.';
  throw usageError(`\`pyflight ${key}\` has no option ${wrong.map((o) => `\`${o}\``).join(', ')}. ${takes}`);
}

/**
 * `pyflight <verb> --help`: that verb's usage lines, the options it takes (this table) and the notes
 * that name it, then where the rest is (judge 4: `diagnose --help` printed all 40 lines). An unknown
 * verb gets the whole usage.
 */
export function verbUsage(verb: string | undefined): string {
  const lines = USAGE.split('\n');
  const commands = lines.filter((l) => verb && (l.startsWith(`  pyflight ${verb} `) || l === `  pyflight ${verb}`));
  if (!verb || !commands.length) return USAGE;
  const takes = new Set(Object.entries(VERB_OPTIONS).filter(([key]) => key === verb || key.startsWith(`${verb} `)).flatMap(([, o]) => o));
  // An entry of options or notes is a line at two spaces and the lines indented under it.
  const entries: string[][] = [];
  for (const l of lines.slice(lines.indexOf('options:') + 1)) {
    if (/^ {2}\S/.test(l)) entries.push([l]);
    else if (/^ {3,}\S/.test(l)) entries.at(-1)?.push(l);
  }
  const named = new RegExp(`^ {2}(\\S+/)*${verb}[:/ ]`);
  const own = entries.filter(([first]) => takes.has(first.trim().split(/\s/)[0]) || named.test(first) || /^ {2}(--verbose|An option)/.test(first));
  const shown = [...commands, ...own.flat()].join(' ');
  // flight-profiler's long spellings of the same options (--limits for -n), and its -a for vmtool's action.
  const also = [...takes].filter((o) => !new RegExp(`(^|[\\s\\[|(])${o.replace(/[-]/g, '\\-')}(?![\\w-])`).test(shown));
  return ['usage:', ...commands, ...(own.length ? ['options and notes:', ...own.flat()] : []),
    ...(also.length ? [`  also taken (flight-profiler's spellings): ${also.join(' ')}`] : []),
    'Every command and option: `pyflight --help`.'].join('\n');
}
