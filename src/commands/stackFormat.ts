import type { StackFrame, StackResult } from '../protocol/helper';

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
      lines.push('', `Task "${task.name}" on thread "${task.thread}" (${task.state ?? 'unknown'}) ${task.coroutine ?? ''}`.trimEnd());
      for (const frame of task.frames) lines.push(`    ${formatFrame(frame)}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function formatFrame(frame: StackFrame): string {
  const where = frame.file ? `${frame.file}${frame.line ? `:${frame.line}` : ''}` : frame.library ?? '?';
  return `${frame.function} (${where})`;
}
