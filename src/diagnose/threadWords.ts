/**
 * Threads and frames in words, shared by the hang analysis (hang.ts) and its wait groups
 * (waitGroups.ts): a stack's signature, a frame's place, a call chain. Pure.
 */
import { isStdlibFrame } from '../format/stackFormat';
import type { StackFrame, ThreadStack } from '../protocol/helper';
import { shortWhere, type SourceLocation } from './report';

/** A thread's stack as one string: the same string in two samples means it did not move. */
export const sig = (t: ThreadStack) => t.frames.map((f) => `${f.function}@${f.file}:${f.line}`).join('|');

/** A frame as a finding's location. */
export function loc(frame: StackFrame | undefined): SourceLocation | null {
  return frame ? { function: frame.function, file: frame.file, line: frame.line } : null;
}

/** The frame of `holder` that is inside the `with` it holds (same file, the nearest line after the `with`). */
export function holdingFrame(holder: ThreadStack, file: string, withLine: number): StackFrame | undefined {
  return holder.frames.filter((f) => f.file === file && f.line !== null && f.line > withLine)
    .sort((a, b) => a.line! - b.line!)[0];
}

export function frameText(f: StackFrame | undefined): string {
  return f ? `${f.function} (${shortWhere(f.file, f.line)})` : '(no Python frame)';
}

export const isLibraryFrame = (f: StackFrame) => /[\\/](site|dist)-packages[\\/]/.test(f.file ?? '');

/** Loops in which a thread waits for work: servers' accept/select loops, event loops, and the worker
 * loops of thread and process pools (a celery prefork worker between tasks waits for the pool's
 * queue lock in billiard's `Worker.workloop`; judged "blocked on self._rlock", high, before). */
const WORK_LOOPS: readonly { name: RegExp; file?: RegExp }[] = [
  { name: /(^|\.)(serve_forever|run_forever|_run_once|SyncWorker\.wait|Arbiter\.(sleep|wait_for_signals|run)|accept)$/ },
  { name: /^_worker$/, file: /concurrent[\\/]futures[\\/]thread\.py$/ },
  { name: /^_process_worker$/, file: /concurrent[\\/]futures[\\/]process\.py$/ },
  { name: /^worker$/, file: /multiprocessing[\\/]pool\.py$/ },
  { name: /^Worker\.workloop$/, file: /billiard[\\/]pool\.py$/ },
  { name: /^WorkerThread\.run$/, file: /anyio[\\/]_backends[\\/]_asyncio\.py$/ },
];

/** True for a thread that waits for work: inside one of WORK_LOOPS with none of the program's own
 * code running inside it (a task that waits has its own frames there, and is not idle). */
export function waitsForWork(t: ThreadStack): boolean {
  const k = t.frames.findIndex((f) => WORK_LOOPS.some((l) => l.name.test(f.function) && (!l.file || l.file.test(f.file ?? ''))));
  return k >= 0 && t.frames.slice(0, k).every((f) => f.kind !== 'python' || isStdlibFrame(f) || isLibraryFrame(f));
}

/**
 * A call chain, outermost first, in words: the server's and framework's frames (a FastAPI app has
 * ~20 middleware calls between the loop and the handler) folded into "… N framework calls …" where
 * more than two follow each other; the application's own frames all shown.
 */
export function callChain(frames: readonly StackFrame[]): string {
  const words: string[] = [];
  for (let i = 0; i < frames.length;) {
    let j = i;
    while (j < frames.length && isLibraryFrame(frames[j])) j++;
    const run = frames.slice(i, j);
    if (run.length > 2) words.push(run[0].function, `… ${run.length - 1} framework calls …`);
    else words.push(...run.map((f) => f.function));
    if (j < frames.length) words.push(frames[j].function);
    i = j + 1;
  }
  return words.join(' → ');
}

/** A thread's own calls, outermost first ("FeedReader.run → FeedReader._resume → FeedReader._read_line"), when there are two or more. */
export function ownCalls(t: ThreadStack): string | undefined {
  const own = t.frames.filter((f) => f.kind === 'python' && !isStdlibFrame(f)).reverse();
  return own.length > 1 ? callChain(own) : undefined;
}
