import * as vscode from 'vscode';
import type { ProbeEntry, ProbeStore } from '../probes/probeStore';
import type { WatchRecord } from '../protocol/helper';
import { EntryNodes, failureRow, messageItem, probeEntryItem, rootRows, workersItem, type MessageNode, type WorkersNode } from './probeEntryItem';
import { clockTime, ms, watchFailure, watchSummary } from '../format/probeText';
import { lineItem, openSourceCommand, valueChildren, valueItem, valueNode, type LineNode, type ValueNode } from './valueNodes';

export type WatchNode =
  | { kind: 'entry'; entry: ProbeEntry<'watch'> }
  | WorkersNode<'watch'>
  | { kind: 'record'; entry: ProbeEntry<'watch'>; record: WatchRecord; key: string; worker?: boolean }
  | { kind: 'dropped'; count: number; key: string }
  | MessageNode
  | ValueNode
  | LineNode;

/** Watch view: one node per watch, newest calls first, each call's values on expand. */
export class WatchView implements vscode.TreeDataProvider<WatchNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<WatchNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: { dispose(): void };
  private readonly entryNodes = new EntryNodes('watch');

  constructor(private readonly store: ProbeStore) {
    // A probe of a worker group changes its group's merged rows: refresh from the top for those.
    this.subscription = this.entryNodes.refreshOn(store, (node) => this.changed.fire(node?.entry.probe.group ? undefined : node));
  }

  getChildren(node?: WatchNode): WatchNode[] {
    if (!node) return rootRows(this.store.of('watch'), (entry): WatchNode => this.entryNodes.node(entry), (group): WatchNode => group);
    if (node.kind === 'workers') {
      // Every worker's calls, newest first, each row naming its worker.
      return node.entries
        .flatMap((entry) => entry.records.map((record, i): WatchNode => ({ kind: 'record', entry, record, worker: true,
          key: `w${entry.probe.id}/${entry.probe.count - i}` })))
        .sort((a, b) => (b as { record: WatchRecord }).record.time - (a as { record: WatchRecord }).record.time);
    }
    if (node.kind === 'entry') {
      const { entry } = node;
      const rows: WatchNode[] = entry.records.map((record, i) => ({ kind: 'record', entry, record, key: `w${entry.probe.id}/${entry.probe.count - i}` }));
      if (entry.dropped) rows.push({ kind: 'dropped', count: entry.dropped, key: `w${entry.probe.id}/dropped` });
      const failure = failureRow(entry, `w${entry.probe.id}/error`, 'lightbulb');
      if (failure) rows.unshift(failure);
      return rows;
    }
    if (node.kind === 'record') {
      const r = node.record;
      const own = r.arguments !== undefined && r.arguments !== null; // PyFlight's expression: arguments + return value
      return [
        valueNode(`${node.key}/exprError`, 'expression failed', r.expressionError, true),
        valueNode(`${node.key}/filterError`, 'filter failed', r.filterError, true),
        own ? valueNode(`${node.key}/args`, 'arguments', r.arguments) : undefined,
        own && !r.isException ? valueNode(`${node.key}/ret`, 'returned', r.returned) : undefined,
        // A failed expression has no value (the agent sends "None"); the type is the expression's, so it
        // is shown for calls that returned: for a raising call the exception's type is what matters.
        !own && !r.expressionError && !r.isException ? valueNode(`${node.key}/type`, 'type', r.type) : undefined,
        !own && !r.expressionError ? valueNode(`${node.key}/value`, r.expr || 'value', r.value) : undefined,
        valueNode(`${node.key}/exception`, r.exceptionType ? `raised ${r.exceptionType}` : 'exception', r.exception, true),
      ].filter((n): n is ValueNode => n !== undefined);
    }
    if (node.kind === 'value') return valueChildren(node);
    return [];
  }

  getTreeItem(node: WatchNode): vscode.TreeItem {
    switch (node.kind) {
      case 'entry':
        return probeEntryItem(node.entry);
      case 'workers':
        return workersItem(node, 'call');
      case 'record': {
        const r = node.record;
        const item = new vscode.TreeItem(clockTime(r.time), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.key;
        // The call at a glance: arguments → return value, what was raised, or why the expression failed.
        const failure = watchFailure(r);
        item.description = `${node.worker ? `worker ${node.entry.probe.pid} · ` : ''}${ms(r.costMs)} · ${watchSummary(r, 80)}`;
        item.iconPath = r.isException || failure
          ? new vscode.ThemeIcon(failure ? 'warning' : 'error', new vscode.ThemeColor(failure ? 'problemsWarningIcon.foreground' : 'errorForeground'))
          : new vscode.ThemeIcon('pass', new vscode.ThemeColor('charts.green'));
        item.tooltip = [watchSummary(r, 2000), r.exception, r.expressionError ?? r.filterError].filter(Boolean).join('\n\n');
        item.contextValue = 'watchRecord';
        item.command = openSourceCommand(node.entry.source?.file, node.entry.source?.line);
        return item;
      }
      case 'dropped': {
        const item = new vscode.TreeItem(`${node.count} older calls dropped`, vscode.TreeItemCollapsibleState.None);
        item.tooltip = 'Only the newest calls are kept (setting pyflight.watch.maxRecords).';
        item.iconPath = new vscode.ThemeIcon('info');
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

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
