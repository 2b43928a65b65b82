import type { StackFrame, StackResult, ThreadStack } from '../protocol/helper';

/** Plain-text rendering of a stack dump, shared by the CLI and "Export Stacks to File…". */
export function formatStacks(result: StackResult): string {
  const lines: string[] = [];
  lines.push(`Process ${result.pid} — stacks captured ${new Date(result.capturedAt).toISOString()}`);
  for (const thread of result.threads) {
    const flags = [thread.holdsGil ? 'holds GIL' : '', thread.gcCollecting ? 'GC running' : '', thread.daemon ? 'daemon' : '']
      .filter(Boolean).join(', ');
    lines.push('', `Thread ${thread.tid} "${thread.name}"${flags ? ` (${flags})` : ''}`);
    for (const frame of thread.frames) lines.push(`    ${formatFrame(frame)}`);
    if (thread.nativeFrames?.length) {
      lines.push('  native:');
      for (const frame of thread.nativeFrames) lines.push(`    ${formatFrame(frame)}`);
    }
  }
  if (result.hiddenAgentThreads) lines.push('', `(${result.hiddenAgentThreads} profiler agent threads hidden)`);
  if (result.asyncTasks) {
    lines.push('', `Async tasks: ${result.asyncTasks.length}`);
    for (const task of result.asyncTasks) {
      lines.push('', `Task "${task.name}" on thread "${task.thread}" (${task.running ? 'RUNNING NOW' : task.state ?? 'unknown'}) ${task.coroutine ?? ''}`.trimEnd());
      for (const frame of task.frames) lines.push(`    ${formatFrame(frame)}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function formatFrame(frame: StackFrame): string {
  const where = frame.file ? `${frame.file}${frame.line ? `:${frame.line}` : ''}` : frame.library ?? '?';
  return `${frame.function} (${where})`;
}

/** Threads that share one exact Python stack; size 1 for a thread whose stack is its own. */
export interface StackGroup {
  threads: ThreadStack[];
  frames: StackFrame[];
}

/**
 * Groups threads with identical Python stacks, biggest group first: "4 threads are all waiting
 * at the same line" is usually the first thing to see in a hung or slow service. Threads keep
 * their original order inside a group, and groups of one keep theirs.
 */
export function groupIdenticalStacks(threads: readonly ThreadStack[]): StackGroup[] {
  const groups = new Map<string, StackGroup>();
  for (const thread of threads) {
    const key = thread.frames.length ? thread.frames.map((f) => `${f.file}:${f.line}:${f.function}`).join('|') : `empty:${thread.tid}`;
    const group = groups.get(key);
    if (group) group.threads.push(thread);
    else groups.set(key, { threads: [thread], frames: thread.frames });
  }
  return [...groups.values()].sort((a, b) => (b.threads.length > 1 ? b.threads.length : 0) - (a.threads.length > 1 ? a.threads.length : 0));
}
