/** The torch summaries as text: the CLI's output, the editor's markdown summary and the diagnosis evidence. */
import { escapeMarkdown } from '../format/markdown';
import { formatBytes } from '../memory/memModel';
import type { TorchMemoryResult, TorchProfileResult } from '../protocol/helper';
import type { PythonFrame, TorchOpRow, TorchTraceSummary } from './traceSummary';

export function microseconds(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(us >= 100_000 ? 0 : 2)} ms` : `${us.toFixed(0)} µs`;
}

export function frameText(f: PythonFrame): string {
  return `${f.function} (${f.file}:${f.line})`;
}

export function opLine(op: TorchOpRow, total: number, cuda: boolean): string {
  const share = total ? ` ${((op.selfCpuUs / total) * 100).toFixed(1)}%` : '';
  return `${op.name}  self CPU ${microseconds(op.selfCpuUs)}${share}${cuda ? `, CUDA ${microseconds(op.cudaUs)}` : ''}`
    + `, ${op.calls} call${op.calls === 1 ? '' : 's'}`
    + (op.shapes[0] ? `, shapes ${op.shapes[0]}` : '')
    + (op.modulePath ? `, in ${op.modulePath}` : '')
    + (op.caller ? `, from ${frameText(op.caller)}` : '');
}

export function profileSummaryLines(result: TorchProfileResult, summary: TorchTraceSummary, where: string): string[] {
  const cuda = summary.totalCudaUs > 0;
  const lines = [`torch profile of one call of ${where} (torch ${result.torchVersion}${result.cudaAvailable ? ', CUDA' : ', CPU only'}): `
    + `${summary.opEvents} operator calls, ${microseconds(summary.totalSelfCpuUs)} CPU in operators${cuda ? `, ${microseconds(summary.totalCudaUs)} in CUDA kernels` : ''}.`,
  '', `Top operators by ${cuda ? 'CUDA, then self CPU' : 'self CPU'} time:`];
  summary.ops.forEach((op, i) => lines.push(`${String(i + 1).padStart(3)}. ${opLine(op, summary.totalSelfCpuUs, cuda)}`));
  if (summary.modules.length) {
    lines.push('', 'By module (nn.Module classes, outermost first):');
    for (const m of summary.modules.slice(0, 8)) {
      lines.push(`  ${m.path}  ${microseconds(m.selfCpuUs)}: ${m.ops.join(', ')}${m.forward ? `  — forward at ${m.forward.file}:${m.forward.line}` : ''}`);
    }
  } else if (!summary.withStack) {
    lines.push('', 'The trace has no Python stack events, so the issuing modules are not known.');
  }
  lines.push('', `Chrome trace: ${result.file} (open in chrome://tracing or https://ui.perfetto.dev).`);
  return lines;
}

export function memorySummaryLines(result: TorchMemoryResult, what: string): string[] {
  const s = result.summary;
  const lines = [`torch memory ${what}: ${formatBytes(s.allocatedBytes)} allocated of ${formatBytes(s.reservedBytes)} reserved by the CUDA caching allocator `
    + `in ${s.segments} segments, ${s.allocations} live allocations.`];
  if (s.top.length) {
    lines.push('', 'Biggest live allocations:');
    s.top.forEach((a, i) => lines.push(`${String(i + 1).padStart(3)}. ${formatBytes(a.bytes)}${a.device !== null ? ` on cuda:${a.device}` : ''}`
      + (a.where ? ` from ${a.where.function ?? '?'} (${a.where.file}${a.where.line ? `:${a.where.line}` : ''})` : '')));
  }
  lines.push('', `Snapshot: ${result.file} (open it at https://pytorch.org/memory_viz).`);
  return lines;
}

/** The profile summary as Markdown tables for the editor's preview; every value from the target is escaped (shown, never interpreted). */
export function profileSummaryMarkdown(result: TorchProfileResult, summary: TorchTraceSummary, where: string): string {
  const e = escapeMarkdown;
  const cuda = summary.totalCudaUs > 0;
  const share = (us: number) => (summary.totalSelfCpuUs ? `${((us / summary.totalSelfCpuUs) * 100).toFixed(1)}%` : '');
  const lines = [`# torch profile of ${e(where)}`, '',
    e(`One call · torch ${result.torchVersion}${result.cudaAvailable ? ' with CUDA' : ', CPU only'} · ${summary.opEvents} operator calls · `
      + `${microseconds(summary.totalSelfCpuUs)} CPU in operators${cuda ? ` · ${microseconds(summary.totalCudaUs)} in CUDA kernels` : ''}`), '',
    `## Top operators by ${cuda ? 'CUDA, then self CPU' : 'self CPU'} time`, '',
    `| # | Operator | Self CPU | Share |${cuda ? ' CUDA |' : ''} Calls | Input shapes | Module | Called from |`,
    `|--:|---|--:|--:|${cuda ? '--:|' : ''}--:|---|---|---|`,
    ...summary.ops.map((o, i) => `| ${i + 1} | ${e(o.name)} | ${microseconds(o.selfCpuUs)} | ${share(o.selfCpuUs)} |`
      + `${cuda ? ` ${microseconds(o.cudaUs)} |` : ''} ${o.calls} | ${e(o.shapes[0] ?? '')} | ${e(o.modulePath ?? '')} | ${o.caller ? e(frameText(o.caller)) : ''} |`)];
  if (summary.modules.length) {
    lines.push('', '## By module (outermost first)', '', '| Module | Self CPU | Operators | forward() defined at |', '|---|--:|---|---|',
      ...summary.modules.slice(0, 8).map((m) => `| ${e(m.path)} | ${microseconds(m.selfCpuUs)} | ${e(m.ops.join(', '))} | `
        + `${m.forward ? e(`${m.forward.file}:${m.forward.line}`) : ''} |`));
  } else if (!summary.withStack) {
    lines.push('', e('The trace has no Python stack events, so the issuing modules are not known.'));
  }
  lines.push('', e(`Chrome trace: ${result.file} — open it in chrome://tracing or https://ui.perfetto.dev (Reveal File / Save As… in the notification).`), '');
  return lines.join('\n');
}
