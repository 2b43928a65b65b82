import * as vscode from 'vscode';
import { clockTime, frameFile, frameName, frameWhere, hottestChild, mergeTraces, ms, plural, threadLabel, type MergedNode } from '../format/probeText';
import type { ProbeEntry, ProbeStore } from '../probes/probeStore';
import type { TraceNode, TraceRecord } from '../protocol/helper';
import { EntryNodes, failureRow, messageItem, probeEntryItem, rootRows, workersItem, type MessageNode, type WorkersNode } from './probeEntryItem';
import { openSourceCommand } from './valueNodes';

type Node =
  | { kind: 'entry'; entry: ProbeEntry<'trace'> }
  | WorkersNode<'trace'>
  | { kind: 'merged'; entry: ProbeEntry<'trace'>; root: MergedNode; calls: number; key: string }
  | { kind: 'mergedFrame'; node: MergedNode; calls: number; hot: boolean; key: string }
  | { kind: 'call'; entry: ProbeEntry<'trace'>; record: TraceRecord; key: string }
  | { kind: 'frame'; node: TraceNode; parentCostMs: number; hot: boolean; key: string }
  | MessageNode;

function frameNodes(parent: TraceNode, hotPath: boolean, key: string): Node[] {
  const hot = hottestChild(parent);
  return parent.children.map((child, i) => ({ kind: 'frame', node: child, parentCostMs: parent.costMs,
    hot: hotPath && child === hot, key: `${key}/${i}` }));
}

function mergedNodes(parent: MergedNode, calls: number, hotPath: boolean, key: string): Node[] {
  const hot = hottestChild(parent);
  return parent.children.map((child, i) => ({ kind: 'mergedFrame', node: child, calls, hot: hotPath && child === hot, key: `${key}/${i}` }));
}

/**
 * Trace view: captured calls → call tree with cost and % of parent; opening a call shows its
 * children with the hot path expanded. With two or more calls, a merged tree comes first: total,
 * average and max per child over all captured calls.
 */
export class TraceView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: { dispose(): void };
  private readonly entryNodes = new EntryNodes('trace');

  constructor(private readonly store: ProbeStore) {
    // A worker group's row sums its probes: refresh from the top for those.
    this.subscription = this.entryNodes.refreshOn(store, (node) => this.changed.fire(node?.entry.probe.group ? undefined : node));
  }

  getChildren(node?: Node): Node[] {
    if (!node) return rootRows(this.store.of('trace'), (entry): Node => this.entryNodes.node(entry), (group): Node => group);
    switch (node.kind) {
      case 'workers':
        return node.entries.map((entry) => this.entryNodes.node(entry));
      case 'entry': {
        const { entry } = node;
        const id = entry.probe.id;
        const rows: Node[] = entry.records.map((record, i) => ({ kind: 'call', entry, record, key: `t${id}/${entry.probe.count - i}` }));
        if (entry.records.length >= 2) {
          const root = mergeTraces(entry.records);
          // Keyed by the number of calls, so the node is new (and re-read) when more calls arrive.
          if (root) rows.unshift({ kind: 'merged', entry, root, calls: entry.records.length, key: `t${id}/merged${entry.records.length}` });
        }
        const failure = failureRow(entry, `t${id}/e`);
        if (failure) rows.unshift(failure);
        if (entry.dropped) rows.push({ kind: 'message', text: `${entry.dropped} older calls dropped`, key: `t${id}/d` });
        return rows;
      }
      case 'merged':
        return mergedNodes(node.root, node.calls, true, node.key);
      case 'mergedFrame':
        return mergedNodes(node.node, node.calls, node.hot, node.key);
      case 'call':
        // The call row is the root frame: its children come next, hot path expanded.
        return frameNodes(node.record.root, true, node.key);
      case 'frame':
        return frameNodes(node.node, node.hot, node.key);
      default:
        return [];
    }
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const { None, Collapsed, Expanded } = vscode.TreeItemCollapsibleState;
    switch (node.kind) {
      case 'entry':
        return probeEntryItem(node.entry);
      case 'workers':
        return workersItem(node, 'call');
      case 'merged': {
        const r = node.root;
        const item = new vscode.TreeItem(`all ${plural(node.calls, 'call')} merged`, r.children.length ? Collapsed : None);
        item.id = node.key;
        item.description = `${r.function} · total ${ms(r.totalMs)} · avg ${ms(r.avgMs)} · max ${ms(r.maxMs)}`;
        item.tooltip = `The ${plural(node.calls, 'captured call')} of ${r.function} as one tree: per child, its total time over ` +
          'all calls, its average per call and the most it took in one call.';
        item.iconPath = new vscode.ThemeIcon('layers');
        return item;
      }
      case 'mergedFrame': {
        const n = node.node;
        const state = n.children.length === 0 ? None : node.hot ? Expanded : Collapsed;
        const item = new vscode.TreeItem(frameName(n), state);
        item.id = node.key;
        const at = frameWhere(n);
        const seen = n.calls < node.calls ? ` · in ${n.calls}/${node.calls} calls` : n.hits > n.calls ? ` · ${n.hits}× ` : '';
        item.description = `avg ${ms(n.avgMs)} · max ${ms(n.maxMs)} · total ${ms(n.totalMs)}${seen}${at ? ` · ${at}` : ''}`;
        item.tooltip = `${n.function}\n${frameFile(n)}\n` +
          `total ${ms(n.totalMs)} over ${plural(node.calls, 'call')}; average ${ms(n.avgMs)} per call; max ${ms(n.maxMs)} in one call; ` +
          `ran in ${n.calls} of them (${plural(n.hits, 'time')} in all)`;
        item.iconPath = new vscode.ThemeIcon(n.builtin ? 'symbol-constructor' : node.hot ? 'flame' : 'symbol-function',
          node.hot ? new vscode.ThemeColor('charts.orange') : undefined);
        item.command = openSourceCommand(n.file, n.line);
        return item;
      }
      case 'call': {
        const r = node.record;
        const item = new vscode.TreeItem(`${ms(r.costMs)}  ${r.root.function}`, r.root.children.length ? Collapsed : None);
        item.id = node.key;
        item.description = [threadLabel(r), clockTime(r.time)].filter(Boolean).join(' · ');
        item.iconPath = new vscode.ThemeIcon('watch');
        item.command = openSourceCommand(r.root.file, r.root.line);
        return item;
      }
      case 'frame': {
        const n = node.node;
        const pct = node.parentCostMs > 0 ? Math.round((n.costMs / node.parentCostMs) * 100) : 100;
        const state = n.children.length === 0 ? None : node.hot ? Expanded : Collapsed;
        const item = new vscode.TreeItem(frameName(n), state);
        item.id = node.key;
        const at = frameWhere(n);
        item.description = `${ms(n.costMs)} · ${pct}%${at ? ` · ${at}` : ''}`;
        item.tooltip = `${n.function}\n${frameFile(n)}\n${n.costMs.toFixed(3)} ms (${pct}% of caller)`;
        item.iconPath = new vscode.ThemeIcon(n.builtin ? 'symbol-constructor' : n.await ? 'debug-pause' : node.hot ? 'flame' : 'symbol-function',
          node.hot ? new vscode.ThemeColor('charts.orange') : undefined);
        item.command = openSourceCommand(n.file, n.line);
        return item;
      }
      case 'message':
        return messageItem(node);
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
