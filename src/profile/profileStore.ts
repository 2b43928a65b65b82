/**
 * The CPU profiles of this window, kept so they can be listed under their session in the Sessions
 * view, reopened, exported, compared and shown in the editor. vscode-free (the Emitter of
 * src/common/event.ts), bounded: at most `maxPerOwner` profiles per session / worker group (the
 * oldest of that owner is dropped) and `maxTotal` in all (the oldest overall is dropped).
 */
import { Emitter } from '../common/event';
import type { CpuProfile } from './model';

/** Whose profile it is: one process (pid + the session's start time), a worker group, or a file. */
export type ProfileOwner =
  | { kind: 'session'; pid: number; startedAt: number }
  | { kind: 'group'; masterPid: number }
  | { kind: 'file'; path: string };

/** One worker's share of a profile of all workers. */
export interface WorkerShare {
  pid: number;
  profile: CpuProfile;
  /** Why this worker has no samples (it exited, py-spy failed), when it has none. */
  error?: string;
}

export interface KeptProfile {
  id: number;
  owner: ProfileOwner;
  /** The target, e.g. "cpu_service.py (pid 123)" or "gunicorn master 42". */
  label: string;
  /** When recording started (ms since the epoch). */
  startedAt: number;
  durationMs: number;
  /** Samples per second, when recorded here. */
  rate?: number;
  profile: CpuProfile;
  /** For a profile of all workers: each worker's own profile (the merged one is `profile`). */
  workers?: WorkerShare[];
  /** How the recording ended, when it was not by its duration (e.g. "process exited after 2.1 s"). */
  note?: string;
}

export const DEFAULT_MAX_PER_OWNER = 10;
export const DEFAULT_MAX_TOTAL = 50;

export function ownerKey(owner: ProfileOwner): string {
  switch (owner.kind) {
    case 'session': return `session:${owner.pid}:${owner.startedAt}`;
    case 'group': return `group:${owner.masterPid}`;
    case 'file': return `file:${owner.path}`;
  }
}

export class ProfileStore {
  private readonly entries: KeptProfile[] = [];
  private nextId = 1;
  private readonly changeEmitter = new Emitter<void>();
  readonly onDidChange = this.changeEmitter.event;

  constructor(readonly maxPerOwner = DEFAULT_MAX_PER_OWNER, readonly maxTotal = DEFAULT_MAX_TOTAL) {}

  /** Keeps a profile (newest last); drops the oldest of its owner, then overall, past the bounds. */
  add(entry: Omit<KeptProfile, 'id'>): KeptProfile {
    const kept: KeptProfile = { ...entry, id: this.nextId++ };
    this.entries.push(kept);
    const key = ownerKey(kept.owner);
    const mine = this.entries.filter((e) => ownerKey(e.owner) === key);
    for (const old of mine.slice(0, Math.max(0, mine.length - this.maxPerOwner))) this.remove(old.id);
    while (this.entries.length > this.maxTotal) this.entries.shift();
    this.changeEmitter.fire();
    return kept;
  }

  get(id: number): KeptProfile | undefined {
    return this.entries.find((e) => e.id === id);
  }

  /** Every kept profile, newest first. */
  get all(): KeptProfile[] {
    return [...this.entries].reverse();
  }

  /** The profiles of one owner, newest first. */
  of(owner: ProfileOwner): KeptProfile[] {
    const key = ownerKey(owner);
    return this.all.filter((e) => ownerKey(e.owner) === key);
  }

  /** The newest profile, if any. */
  get latest(): KeptProfile | undefined {
    return this.entries[this.entries.length - 1];
  }

  delete(id: number): boolean {
    const removed = this.remove(id);
    if (removed) this.changeEmitter.fire();
    return removed;
  }

  private remove(id: number): boolean {
    const i = this.entries.findIndex((e) => e.id === id);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }

  dispose(): void {
    this.changeEmitter.dispose();
  }
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** "12:03:44" in local time. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "10 s", "1 min 5 s", "0.4 s". */
export function shortDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 1) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  if (whole < 60) return `${whole} s`;
  return `${Math.floor(whole / 60)} min${whole % 60 ? ` ${whole % 60} s` : ''}`;
}

/** The Sessions view row: "CPU profile · 12:03:44 · 2,431 samples · 10 s" (workers: "CPU profile of 2 workers · …"). */
export function profileRowLabel(p: KeptProfile): string {
  const what = p.workers ? `CPU profile of ${p.workers.length} workers` : 'CPU profile';
  return `${what} · ${clockTime(p.startedAt)} · ${p.profile.samples.toLocaleString('en-US')} samples · ${shortDuration(p.durationMs)}`;
}
