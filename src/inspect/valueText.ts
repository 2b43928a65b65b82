/**
 * Values and instances as text, for the CLI, the read-only documents and the views (pure, no
 * vscode). Target strings are display text only: they never reach HTML or code.
 */
import type { ForceGcResult, GetGlobalResult, InstancesResult } from '../protocol/helper';

/** `shop.orders.Order.TAX_RATE` */
export function valueLocation(where: { module: string; class?: string | null; field: string }): string {
  return [where.module, where.class, where.field].filter(Boolean).join('.');
}

/** The options a value was read with, as flight-profiler spells them: `-x 2 -e "len(target)" -r`. */
export function valueOptions(options: { expand?: number; expr?: string; raw?: boolean }): string {
  return [options.expand !== undefined ? `-x ${options.expand}` : '', options.expr && options.expr !== 'target' ? `-e ${JSON.stringify(options.expr)}` : '',
    options.raw ? '-r' : ''].filter(Boolean).join(' ');
}

/** `<class 'dict'>` → `dict` (other text is kept as it is). */
export function shortType(type: string): string {
  return /^<class '(.*)'>$/.exec(type)?.[1] ?? type;
}

const count = (n: number) => n.toLocaleString('en-US');

/** A value read from process `pid`, with where and how, as a document or CLI output. */
export function valueDocument(result: GetGlobalResult, pid: number, readAt?: Date): string {
  const expr = result.expr && result.expr !== 'target' ? ` · expression ${result.expr}` : '';
  return [`# ${valueLocation(result)} in process ${pid}${expr}`,
    `# type ${shortType(result.type)} · ${result.raw ? 'repr()' : `depth ${result.expand}`}${readAt ? ` · read ${readAt.toISOString()}` : ''}`,
    '', result.value, ''].join('\n');
}

export function instancesHeadline(result: InstancesResult): string {
  const shown = result.instances.length < result.count ? ` (showing ${result.instances.length})` : '';
  return `${count(result.count)} live instance${result.count === 1 ? '' : 's'} of ${result.module}.${result.class}${shown}`;
}

/** The instances, each rendered, or the expression's value. */
export function instancesDocument(result: InstancesResult, pid: number, readAt?: Date): string {
  const lines = [`# ${instancesHeadline(result)} in process ${pid}${readAt ? ` · read ${readAt.toISOString()}` : ''}`, ''];
  if (result.expr !== undefined) {
    lines.push(`# expression ${result.expr} · type ${shortType(result.type ?? '')}`, result.value ?? '', '');
    return lines.join('\n');
  }
  result.instances.forEach((instance, i) => lines.push(`[${i + 1}] ${instance.type} at ${hexId(instance.id)}`, instance.value, ''));
  return lines.join('\n');
}

/** id() as CPython shows addresses: 0x7f3a… */
export function hexId(id: number): string {
  return `0x${id.toString(16)}`;
}

function megabytes(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MB`;
}

/** "gc.collect() freed 1,234 unreachable objects; tracked objects 50,210 → 48,976; resident memory 31.2 MB → 31.0 MB." */
export function forceGcText(result: ForceGcResult): string {
  const rss = result.rssKibBefore !== null && result.rssKibAfter !== null
    ? `; resident memory ${megabytes(result.rssKibBefore)} → ${megabytes(result.rssKibAfter)}` : '';
  return `gc.collect() freed ${count(result.unreachable)} unreachable object${result.unreachable === 1 ? '' : 's'}; `
    + `objects tracked by the collector ${count(result.objectsBefore)} → ${count(result.objectsAfter)}${rss}.`;
}
