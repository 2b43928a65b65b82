/**
 * Live values for hovers (vscode-free): only from sessions whose agent is already loaded (a hover
 * never loads it or asks for consent), one getglobal per name (the file's module is asked once per
 * file and kept), answers kept briefly so moving the mouse around costs nothing more.
 */
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { GetGlobalResult } from '../protocol/helper';
import type { Session } from '../session/session';
import type { ValueAt } from './valueTarget';

export interface LiveValue {
  session: Session;
  result: GetGlobalResult;
}

export class LiveValues {
  private readonly modules = new Map<string, Promise<string | undefined>>();
  private readonly values = new Map<string, { at: number; value: Promise<GetGlobalResult | undefined> }>();
  /** Requests sent to the target, for the log and the tests. */
  requests = 0;

  constructor(private readonly log: Logger, private readonly ttlMs = 3000, private readonly now = () => Date.now()) {}

  /** The value from the first of `sessions` that imported `file` and has it, or undefined. */
  async valueOf(sessions: readonly Session[], file: string, what: ValueAt): Promise<LiveValue | undefined> {
    for (const session of sessions) {
      if (session.state !== 'ready' || !session.agentLoaded) continue; // never load the agent for a hover
      const module = await this.moduleOf(session, file);
      if (!module) continue;
      const result = await this.read(session, module, what);
      if (result) return { session, result };
    }
    return undefined;
  }

  private moduleOf(session: Session, file: string): Promise<string | undefined> {
    const key = `${session.pid}\0${session.startedAt}\0${file}`;
    let module = this.modules.get(key);
    if (!module) {
      this.requests++;
      module = session.call('module', { file }).then((r) => r.module, (error) => {
        const code = PyFlightError.from(error).code;
        if (code !== ErrorCode.FileNotImported) this.modules.delete(key); // ask again next time
        return undefined;
      });
      this.modules.set(key, module);
    }
    return module;
  }

  private read(session: Session, module: string, what: ValueAt): Promise<GetGlobalResult | undefined> {
    const key = `${session.pid}\0${session.startedAt}\0${module}\0${what.class ?? ''}\0${what.field}`;
    const cached = this.values.get(key);
    if (cached && this.now() - cached.at < this.ttlMs) return cached.value;
    for (const [k, v] of this.values) if (this.now() - v.at >= this.ttlMs) this.values.delete(k);
    this.requests++;
    const value = session.getglobal({ module, class: what.class, field: what.field, expand: 1, imported: true }).catch((error) => {
      this.log.debug(`hover ${module}.${what.field} in ${session.pid}: ${PyFlightError.from(error).code}`);
      return undefined;
    });
    this.values.set(key, { at: this.now(), value });
    return value;
  }
}
