import * as vscode from 'vscode';
import { PyFlightError } from '../common/errors';
import type { ProbeEntry, ProbeStore } from '../probes/probeStore';
import type { TtDetail, TtRecord } from '../protocol/helper';
import { EntryNodes, failureRow, messageItem, probeEntryItem, type MessageNode } from './probeEntryItem';
import { clockTime, ms, qualifiedName, ttRaised } from '../format/probeText';
import { lineItem, openSourceCommand, valueChildren, valueItem, valueNode, type LineNode, type ValueNode } from './valueNodes';

export type TtNode =
  | { kind: 'entry'; entry: ProbeEntry<'ttRecord'> }
  | { kind: 'record'; entry: ProbeEntry<'ttRecord'>; record: TtRecord; key: string }
  | { kind: 'replay'; entry: ProbeEntry<'ttRecord'>; original: TtRecord; detail: TtDetail; key: string }
  | MessageNode
  | { kind: 'exception'; detail: TtDetail; key: string }
  | ValueNode
  | LineNode;

/** args, kwargs (Python reprs), then the return value, or what was raised (its traceback as children) and, for a replay, the hint. */
function detailValues(key: string, d: TtDetail): TtNode[] {
  const nodes: TtNode[] = [
    valueNode(`${key}/args`, 'args', d.args),
    valueNode(`${key}/kwargs`, 'kwargs', d.kwargs),
    d.isException ? undefined : valueNode(`${key}/ret`, 'returned', d.returnValue),
  ].filter((n): n is ValueNode => n !== undefined);
  if (d.isException) nodes.push({ kind: 'exception', detail: d, key: `${key}/exc` });
  if (d.hint) nodes.push({ kind: 'message', text: d.hint, key: `${key}/hint`, tooltip: d.hint });
  return nodes;
}

/** Time Tunnel view: recordings → calls (index, time, cost, returned/raised) → details and replays. */
export class TimeTunnelView implements vscode.TreeDataProvider<TtNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TtNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: { dispose(): void };
  private readonly entryNodes = new EntryNodes('ttRecord');
  private readonly details = new Map<string, Promise<TtDetail>>();
  private readonly replays = new Map<string, TtDetail[]>();
  private readonly deleted = new Set<string>();

  constructor(private readonly store: ProbeStore) {
    this.subscription = this.entryNodes.refreshOn(store, (node) => this.changed.fire(node));
  }

  private keyOf(entry: ProbeEntry<'ttRecord'>, index: number): string {
    return `${entry.session.pid}:${entry.session.startedAt}:${index}`;
  }

  async getChildren(node?: TtNode): Promise<TtNode[]> {
    if (!node) return this.store.of('ttRecord').map((entry) => this.entryNodes.node(entry));
    switch (node.kind) {
      case 'entry': {
        const rows: TtNode[] = node.entry.records
          .filter((record) => !this.deleted.has(this.keyOf(node.entry, record.index)))
          .map((record) => ({ kind: 'record', entry: node.entry, record, key: `tt${node.entry.probe.id}/${record.index}` }));
        const failure = failureRow(node.entry, `tt${node.entry.probe.id}/e`);
        if (failure) rows.unshift(failure);
        return rows;
      }
      case 'record': {
        const key = this.keyOf(node.entry, node.record.index);
        let detail = this.details.get(key);
        if (!detail) {
          detail = node.entry.session.call('ttDetail', { index: node.record.index });
          this.details.set(key, detail);
        }
        try {
          const values = detailValues(node.key, await detail);
          for (const [i, replay] of (this.replays.get(key) ?? []).entries()) {
            values.push({ kind: 'replay', entry: node.entry, original: node.record, detail: replay, key: `${node.key}/replay${i}` });
          }
          return values;
        } catch (error) {
          this.details.delete(key);
          return [{ kind: 'message', text: PyFlightError.from(error).message, key: `${node.key}/err`, error: true }];
        }
      }
      case 'replay':
        return detailValues(node.key, node.detail);
      case 'exception':
        return node.detail.exception ? valueChildren({ kind: 'value', key: node.key, label: '', text: node.detail.exception.trimEnd() }) : [];
      case 'value':
        return valueChildren(node);
      default:
        return [];
    }
  }

  getTreeItem(node: TtNode): vscode.TreeItem {
    switch (node.kind) {
      case 'entry':
        return probeEntryItem(node.entry);
      case 'record': {
        const r = node.record;
        const item = new vscode.TreeItem(`#${r.index}`, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.key;
        item.description = `${clockTime(r.time)} · ${ms(r.costMs)} · ${r.isException ? 'raised' : 'returned'}`;
        item.iconPath = r.isException ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground')) : new vscode.ThemeIcon('history');
        item.contextValue = 'ttRecord';
        item.tooltip = `${qualifiedName(r)} call #${r.index}`;
        item.command = openSourceCommand(node.entry.source?.file, node.entry.source?.line);
        return item;
      }
      case 'replay': {
        // flight-profiler records a replay under a new index; it is shown as what it is, under the call it re-ran.
        const d = node.detail;
        const item = new vscode.TreeItem(`replay of #${d.replayOf ?? node.original.index}`, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.key;
        // "#N": the index flight-profiler recorded the replay under.
        item.description = `#${d.index} · ${ms(d.costMs)} · ${d.isException ? `raised ${ttRaised(d)}` : 'returned'}`;
        item.tooltip = `Replay of call #${d.replayOf ?? node.original.index}, recorded by flight-profiler as #${d.index}` +
          (d.isException ? `\nraised ${ttRaised(d)}` : '') + (d.hint ? `\n\n${d.hint}` : '');
        item.iconPath = d.isException ? new vscode.ThemeIcon('debug-restart', new vscode.ThemeColor('errorForeground')) : new vscode.ThemeIcon('debug-restart');
        return item;
      }
      case 'exception': {
        const d = node.detail;
        const item = new vscode.TreeItem(d.exceptionType ? `raised ${d.exceptionType}` : 'raised',
          d.exception ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        item.id = node.key;
        item.description = ttRaised(d);
        const traceback = d.exception && d.exception.length > 4000 ? d.exception.slice(0, 4000) + '…' : d.exception;
        item.tooltip = [ttRaised(d), traceback].filter(Boolean).join('\n\n');
        item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
        return item;
      }
      case 'message':
        return messageItem(node);
      case 'value':
        return valueItem(node);
      case 'line':
        return lineItem(node);
    }
  }

  /** Shows a replay's result next to the original call. */
  addReplay(entry: ProbeEntry<'ttRecord'>, index: number, detail: TtDetail): void {
    const key = this.keyOf(entry, index);
    this.replays.set(key, [...(this.replays.get(key) ?? []), detail]);
    this.changed.fire(undefined);
  }

  markDeleted(entry: ProbeEntry<'ttRecord'>, index: number): void {
    this.deleted.add(this.keyOf(entry, index));
    this.changed.fire(undefined);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
