/**
 * Which session a command acts on, decided by ONE rule (vscode-free, unit-tested with plain objects):
 *
 *  (a) a command about a file goes to the session whose process *is* that file's: its script or an
 *      app module on its command line (`python checkout.py`, `gunicorn app:app`), or, where the agent
 *      is loaded, a module it imported (sys.modules). Only when no session is that file's does a
 *      folder rule count: a read-only session claims files under its working directory or its
 *      script's folder. Workers of one server count as one (the command then asks all or one);
 *  (b) one session left: it. Several (two still match, or nothing matched, or no file): the user
 *      picks, the current session first and selected (one Enter) — a command never goes to the
 *      "current" session silently while others are attached.
 */
import * as path from 'node:path';

export interface RoutableSession {
  readonly pid: number;
}

/** How a session's process relates to a file: it is its file, it is under its folders, or neither. */
export type FileMatch = 'is' | 'folder' | 'no';

export type RouteReason = 'file' | 'only' | 'picked';

export interface RouteRequest<S extends RoutableSession> {
  /** Live (attached) sessions, in the order the picker should offer them. */
  sessions: readonly S[];
  /** The file the command is about (editor commands), if any. */
  file?: string;
  /** How `session`'s process relates to `file`; a rejection counts as "no". */
  matchFile: (session: S, file: string) => Promise<FileMatch>;
  /** The current session (the user's last choice): first and selected in the pick. */
  current?: S;
  /** Sessions with the same key (the workers of one server) count as one for (a). */
  unitOf?: (session: S) => unknown;
  /** Lets the user pick among `candidates` (two or more), `preselected` first; undefined = cancelled. */
  pick: (candidates: readonly S[], preselected?: S) => Promise<S | undefined>;
}

export interface Route<S> {
  session: S;
  reason: RouteReason;
}

/** Applies the rule; undefined when there is no live session or the user cancelled the pick. */
export async function routeSession<S extends RoutableSession>(request: RouteRequest<S>): Promise<Route<S> | undefined> {
  let candidates = [...request.sessions];
  if (candidates.length === 0) return undefined;
  const { file } = request;
  // One session: asking it about the file cannot change the answer.
  if (file !== undefined && candidates.length > 1) {
    const answers = await Promise.all(candidates.map((s) => request.matchFile(s, file).catch((): FileMatch => 'no')));
    const at = (level: FileMatch) => candidates.filter((_, i) => answers[i] === level);
    const matched = at('is').length ? at('is') : at('folder');
    if (matched.length) {
      const units = new Set(matched.map((s) => request.unitOf?.(s) ?? s));
      if (units.size === 1) return { session: matched.find((s) => s === request.current) ?? matched[0], reason: 'file' };
      candidates = matched;
    }
  }
  if (candidates.length === 1) return { session: candidates[0], reason: 'only' };
  const preselected = candidates.find((s) => s === request.current);
  const picked = await request.pick(candidates, preselected);
  return picked ? { session: picked, reason: 'picked' } : undefined;
}

/**
 * The files a command line says the process runs, resolved against its working directory: the
 * script (`python app/checkout.py`), the module of `-m pkg.mod` (`pkg/mod.py`, `pkg/mod/__main__.py`)
 * and a server's app module (`gunicorn shop.wsgi:app`, `uvicorn main:app` → `shop/wsgi.py`, `main.py`).
 */
export function commandLineFiles(argv: readonly string[], cwd: string | undefined): string[] {
  if (!cwd) return [];
  const files: string[] = [];
  const moduleFiles = (dotted: string) => {
    const rel = path.join(...dotted.split('.'));
    files.push(path.resolve(cwd, `${rel}.py`), path.resolve(cwd, rel, '__init__.py'), path.resolve(cwd, rel, '__main__.py'));
  };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-m' && argv[i + 1]) moduleFiles(argv[++i]);
    else if (/\.pyw?$/.test(arg) && !arg.startsWith('-')) files.push(path.resolve(cwd, arg));
    else if (/^[A-Za-z_][\w.]*:[A-Za-z_][\w.()]*$/.test(arg)) moduleFiles(arg.slice(0, arg.indexOf(':')));
  }
  return files;
}
