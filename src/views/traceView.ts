import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProbeEntry, ProbeStore } from '../probes/probeStore';
import type { TraceNode, TraceRecord } from '../protocol/helper';
import { EntryNodes, probeEntryItem } from './probeEntryItem';
import { clockTime, ms, openSourceCommand } from './valueNodes';

type Node =
  | { kind: 'entry'; entry: ProbeEntry<'trace'> }
  | { kind: 'call'; entry: ProbeEntry<'trace'>; record: TraceRecord; key: string }
  | { kind: 'frame'; node: TraceNode; parentCostMs: number; hot: boolean; key: string }
  | { kind: 'message'; text: string; key: string };

/** The child that holds most of its parent's time: the "hot path" we expand by default. */
export function hottestChild(node: TraceNode): TraceNode | undefined {
  return node.children.reduce<TraceNode | undefined>((best, c) => (!best || c.costMs > best.costMs ? c : best), undefined);
}

/** Trace view: captured calls → call tree with cost and % of parent; the hot path is expanded. */
export class TraceView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: { dispose(): void };
  private readonly entryNodes = new EntryNodes('trace');

  constructor(private readonly store: ProbeStore) {
    this.subscription = store.onDidChange((entry) => {
      const node = this.entryNodes.changed(entry);
      if (node !== null) this.changed.fire(node);
    });
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.store.of('trace').map((entry) => this.entryNodes.node(entry));
    switch (node.kind) {
      case 'entry': {
        const rows: Node[] = node.entry.records.map((record, i) => ({ kind: 'call', entry: node.entry, record, key: `t${node.entry.probe.id}/${node.entry.probe.count - i}` }));
        if (node.entry.probe.error) rows.unshift({ kind: 'message', text: node.entry.probe.error.hint ?? node.entry.probe.error.message, key: `t${node.entry.probe.id}/e` });
        if (node.entry.dropped) rows.push({ kind: 'message', text: `${node.entry.dropped} older calls dropped`, key: `t${node.entry.probe.id}/d` });
        return rows;
      }
      case 'call':
        return [{ kind: 'frame', node: node.record.root, parentCostMs: node.record.costMs, hot: true, key: `${node.key}/0` }];
      case 'frame': {
        const hot = hottestChild(node.node);
        return node.node.children.map((child, i) => ({ kind: 'frame', node: child, parentCostMs: node.node.costMs,
          hot: node.hot && child === hot, key: `${node.key}/${i}` }));
      }
      default:
        return [];
    }
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const None = vscode.TreeItemCollapsibleState.None;
    switch (node.kind) {
      case 'entry':
        return probeEntryItem(node.entry, 'call');
      case 'call': {
        const r = node.record;
        const item = new vscode.TreeItem(`${ms(r.costMs)}  ${r.root.function}`, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.key;
        item.description = `${r.thread} · ${clockTime(r.time)}`;
        item.iconPath = new vscode.ThemeIcon('watch');
        item.command = openSourceCommand(r.root.file, r.root.line);
        return item;
      }
      case 'frame': {
        const n = node.node;
        const pct = node.parentCostMs > 0 ? Math.round((n.costMs / node.parentCostMs) * 100) : 100;
        const state = n.children.length === 0 ? None : node.hot ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed;
        const item = new vscode.TreeItem(n.await ? `[await] ${n.function}` : n.function, state);
        item.id = node.key;
        const where = n.builtin ? 'built-in' : n.file ? `${path.basename(n.file)}:${n.line ?? ''}` : '';
        item.description = `${ms(n.costMs)} · ${pct}%${where ? ` · ${where}` : ''}`;
        item.tooltip = `${n.function}\n${n.file ?? 'built-in'}${n.line ? `:${n.line}` : ''}\n${n.costMs.toFixed(3)} ms (${pct}% of caller)`;
        item.iconPath = new vscode.ThemeIcon(n.builtin ? 'symbol-constructor' : n.await ? 'debug-pause' : node.hot ? 'flame' : 'symbol-function',
          node.hot ? new vscode.ThemeColor('charts.orange') : undefined);
        item.command = openSourceCommand(n.file, n.line);
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, None);
        item.iconPath = new vscode.ThemeIcon('info');
        return item;
      }
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
