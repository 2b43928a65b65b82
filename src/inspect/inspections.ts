/**
 * The values and instance listings the user asked for in this window (vscode-free): each one
 * remembers its session and options, so Refresh and Change Options re-read it the same way.
 */
import { PyFlightError } from '../common/errors';
import { Emitter } from '../common/event';
import type { GetGlobalParams, GetGlobalResult, InstancesParams, InstancesResult } from '../protocol/helper';
import type { InspectOptions } from './inspectOptions';
import type { Session } from '../session/session';

interface Common {
  id: number;
  session: Session;
  readAt?: Date;
  error?: PyFlightError;
  loading: boolean;
}

export type Inspection = Common & ({ kind: 'value'; params: GetGlobalParams; result?: GetGlobalResult }
  | { kind: 'instances'; params: InstancesParams; result?: InstancesResult });

const MAX_KEPT = 50;

export class Inspections {
  private readonly items: Inspection[] = [];
  private nextId = 1;
  private readonly onDidChangeEmitter = new Emitter<Inspection | undefined>();
  readonly onDidChange = this.onDidChangeEmitter.event;

  get all(): readonly Inspection[] {
    return this.items;
  }

  get(id: number): Inspection | undefined {
    return this.items.find((i) => i.id === id);
  }

  /** Adds an inspection (newest first, the oldest dropped past 50) and reads it. */
  add(session: Session, what: { kind: 'value'; params: GetGlobalParams } | { kind: 'instances'; params: InstancesParams },
    signal?: AbortSignal): Promise<Inspection> {
    const inspection = { ...what, id: this.nextId++, session, loading: true } as Inspection;
    this.items.unshift(inspection);
    this.items.splice(MAX_KEPT);
    return this.refresh(inspection, signal);
  }

  /** New options (each one not given goes back to its default), then a read with them. */
  setOptions(inspection: Inspection, options: InspectOptions, signal?: AbortSignal): Promise<Inspection> {
    const { expand, expr, raw, verbose, limit } = options;
    if (inspection.kind === 'value') inspection.params = { ...inspection.params, expand, expr, raw, verbose };
    else inspection.params = { ...inspection.params, expand, expr, raw, verbose, limit };
    return this.refresh(inspection, signal);
  }

  /** Reads it again (same session, same options); the error, if any, is kept on it. */
  async refresh(inspection: Inspection, signal?: AbortSignal): Promise<Inspection> {
    inspection.loading = true;
    this.onDidChangeEmitter.fire(inspection);
    try {
      if (inspection.kind === 'value') inspection.result = await inspection.session.getglobal(inspection.params, signal);
      else inspection.result = await inspection.session.call('getInstances', inspection.params, { signal });
      inspection.error = undefined;
    } catch (error) {
      inspection.error = PyFlightError.from(error);
    } finally {
      inspection.loading = false;
      inspection.readAt = new Date();
      this.onDidChangeEmitter.fire(inspection);
    }
    return inspection;
  }

  remove(inspection: Inspection): void {
    const at = this.items.indexOf(inspection);
    if (at >= 0) this.items.splice(at, 1);
    this.onDidChangeEmitter.fire(undefined);
  }

  clear(): void {
    this.items.splice(0);
    this.onDidChangeEmitter.fire(undefined);
  }

  dispose(): void {
    this.onDidChangeEmitter.dispose();
  }
}
