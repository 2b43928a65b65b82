/**
 * Which session a command acts on, decided by ONE rule (vscode-free, unit-tested with plain objects):
 *
 *  (a) a command about a file: the session whose target has imported that file (every live session
 *      is asked in parallel; FILE_NOT_IMPORTED means no). Several have it (pre-fork workers): the
 *      rest of the rule decides among those. None has it: the rest of the rule decides among all,
 *      and the command's own request then says the file is not imported there;
 *  (b) otherwise the session the user last chose (Sessions view selection, Show Stacks on a
 *      session, the status bar item);
 *  (c) otherwise the only session; otherwise the user picks one.
 */
export interface RoutableSession {
  readonly pid: number;
}

export type RouteReason = 'file' | 'chosen' | 'only' | 'picked';

export interface RouteRequest<S extends RoutableSession> {
  /** Live (attached) sessions, in the order the picker should offer them. */
  sessions: readonly S[];
  /** The file the command is about (editor commands), if any. */
  file?: string;
  /** Whether `session`'s target imported `file`; a rejection counts as "no". */
  hasFile: (session: S, file: string) => Promise<boolean>;
  /** The session the user last chose, if it is still live. */
  chosen?: S;
  /** Lets the user pick among `candidates` (two or more); undefined = cancelled. */
  pick: (candidates: readonly S[]) => Promise<S | undefined>;
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
    const answers = await Promise.all(candidates.map((s) => request.hasFile(s, file).catch(() => false)));
    const having = candidates.filter((_, i) => answers[i]);
    if (having.length === 1) return { session: having[0], reason: 'file' };
    if (having.length > 1) candidates = having;
  }
  const chosen = request.chosen && candidates.find((s) => s === request.chosen);
  if (chosen) return { session: chosen, reason: 'chosen' };
  if (candidates.length === 1) return { session: candidates[0], reason: 'only' };
  const picked = await request.pick(candidates);
  return picked ? { session: picked, reason: 'picked' } : undefined;
}
