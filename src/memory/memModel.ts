/**
 * Memory snapshots, pure (no vscode): comparing two summaries, the biggest growers, CSV and text
 * tables, and the flight-profiler command that lists a type's instances. Shared by the memory
 * panel, the CLI and the tests. Type names come from the target: callers render them as text.
 */
import type { MemDiffResult, MemRow, MemSummaryResult } from '../protocol/helper';
import { formatBytes, formatCount } from '../../webview/shared/units';

export { formatBytes, formatCount };

/** A row of a comparison: count and size are deltas (later minus earlier). */
export interface MemDeltaRow {
  type: string;
  count: number;
  size: number;
  sizeApprox: boolean;
  /**
   * The type is in only one of the two summaries: it was below the other's `--limit` (or did not
   * exist then), so its delta is a bound, not a measurement.
   */
  partial?: boolean;
}

/** Two summaries of the same process, `later` minus `earlier`, by type; biggest size delta first. */
export function compareSummaries(earlier: MemSummaryResult, later: MemSummaryResult): MemDeltaRow[] {
  const before = new Map(earlier.rows.map((r) => [r.type, r]));
  const after = new Map(later.rows.map((r) => [r.type, r]));
  const rows: MemDeltaRow[] = [];
  for (const type of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(type);
    const b = after.get(type);
    const row: MemDeltaRow = {
      type,
      count: (b?.count ?? 0) - (a?.count ?? 0),
      size: (b?.size ?? 0) - (a?.size ?? 0),
      sizeApprox: Boolean(a?.sizeApprox || b?.sizeApprox),
    };
    if (!a || !b) row.partial = true;
    rows.push(row);
  }
  return rows.sort((x, y) => y.size - x.size || y.count - x.count || x.type.localeCompare(y.type));
}

/** The rows of a diff as deltas. */
export function diffRows(diff: MemDiffResult): MemDeltaRow[] {
  return diff.rows.map((r) => ({ type: r.type, count: r.count, size: r.size, sizeApprox: r.sizeApprox }));
}

/**
 * Types that grew in size, biggest first. `list` and `str` always grow in an agent diff by about
 * one per type in the process (pympler's first snapshot is alive during the second), so they are
 * kept but flagged by `isDiffBookkeeping`.
 */
export function topGrowers(rows: MemDeltaRow[], n = 10): MemDeltaRow[] {
  return rows.filter((r) => r.size > 0).sort((a, b) => b.size - a.size).slice(0, n);
}

/** Types whose growth in an agent `mem diff` includes pympler's own first snapshot. */
export function isDiffBookkeeping(type: string): boolean {
  return type === 'list' || type === 'str';
}

/** A CSV cell: quoted when needed; text that a spreadsheet would run as a formula gets a leading '. */
function csvCell(value: string | number | boolean): string {
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows as CSV (RFC 4180, CRLF): type, count (or its delta), size in bytes (or its delta), whether the size is approximate. */
export function toCsv(rows: ReadonlyArray<MemRow | MemDeltaRow>, deltas: boolean): string {
  const header = deltas ? ['type', 'count_delta', 'size_delta_bytes', 'size_approx', 'partial'] : ['type', 'count', 'size_bytes', 'size_approx'];
  const lines = [header.join(',')];
  for (const r of rows) {
    const cells: (string | number | boolean)[] = [r.type, r.count, r.size, r.sizeApprox];
    if (deltas) cells.push(Boolean((r as MemDeltaRow).partial));
    lines.push(cells.map(csvCell).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

/** A plain text table (CLI): type, count, size; deltas signed. */
export function memTable(rows: ReadonlyArray<MemRow | MemDeltaRow>, deltas: boolean): string[] {
  const table = [[deltas ? 'Δ objects' : 'objects', deltas ? 'Δ size' : 'size', 'type']];
  for (const r of rows) table.push([formatCount(r.count, deltas), `${r.sizeApprox ? '~' : ''}${formatBytes(r.size, deltas)}`, r.type]);
  const widths = [0, 1].map((i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => `  ${row[0].padStart(widths[0])}  ${row[1].padStart(widths[1])}  ${row[2]}`);
}

/** `module` and `class` of a pympler type name (`pkg.mod.Class` → pkg.mod, Class; `dict` → builtins, dict), or undefined when it is not a class name (`function (f)`, `module(x)`). */
export function classLocation(type: string): { module: string; class: string } | undefined {
  if (!/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(type)) return undefined;
  const dot = type.lastIndexOf('.');
  return dot < 0 ? { module: 'builtins', class: type } : { module: type.slice(0, dot), class: type.slice(dot + 1) };
}

/**
 * Where a type's live instances can be listed (vmtool getInstances): the class for the Values view's
 * Show Live Instances, and the same as a `pyflight` command line.
 */
export function instancesCommand(type: string, pid: number): { module: string; class: string; cli: string } | undefined {
  const where = classLocation(type);
  // vmtool finds an instance through the reference it holds to its class, which only instances of
  // classes written in Python (heap types) have: int, dict, list … are never found.
  if (!where || where.module === 'builtins') return undefined;
  return { ...where, cli: `pyflight vmtool ${pid} getInstances -c ${where.module} ${where.class} -n 10` };
}
