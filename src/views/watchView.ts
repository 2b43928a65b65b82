import * as vscode from 'vscode';
import type { ProbeEntry, ProbeStore } from '../probes/probeStore';
import type { WatchRecord } from '../protocol/helper';
import { EntryNodes, probeEntryItem } from './probeEntryItem';
import { clockTime, compact, lineItem, ms, openSourceCommand, valueChildren, valueItem, valueNode, type LineNode, type ValueNode } from './valueNodes';

export type WatchNode =
  | { kind: 'entry'; entry: ProbeEntry<'watch'> }
  | { kind: 'record'; entry: ProbeEntry<'watch'>; record: WatchRecord; key: string }
  | { kind: 'dropped'; count: number; key: string }
  | { kind: 'message'; text: string; key: string }
  | ValueNode
  | LineNode;

/** Watch view: one node per watch, newest calls first, each call's values on expand. */
export class WatchView implements vscode.TreeDataProvider<WatchNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<WatchNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: { dispose(): void };
  private readonly entryNodes = new EntryNodes('watch');

  constructor(private readonly store: ProbeStore) {
    this.subscription = store.onDidChange((entry) => {
      const node = this.entryNodes.changed(entry);
      if (node !== null) this.changed.fire(node);
    });
  }

  getChildren(node?: WatchNode): WatchNode[] {
    if (!node) return this.store.of('watch').map((entry) => this.entryNodes.node(entry));
    if (node.kind === 'entry') {
      const { entry } = node;
      const rows: WatchNode[] = entry.records.map((record, i) => ({ kind: 'record', entry, record, key: `w${entry.probe.id}/${entry.probe.count - i}` }));
      if (entry.dropped) rows.push({ kind: 'dropped', count: entry.dropped, key: `w${entry.probe.id}/dropped` });
      if (entry.probe.error) rows.unshift({ kind: 'message', text: entry.probe.error.hint ?? entry.probe.error.message, key: `w${entry.probe.id}/error` });
      return rows;
    }
    if (node.kind === 'record') {
      const r = node.record;
      return [
        valueNode(`${node.key}/type`, 'type', r.type),
        valueNode(`${node.key}/value`, r.expr || 'value', r.value),
        valueNode(`${node.key}/exception`, 'exception', r.exception, true),
        valueNode(`${node.key}/exprError`, 'expression failed', r.expressionError, true),
        valueNode(`${node.key}/filterError`, 'filter failed', r.filterError, true),
      ].filter((n): n is ValueNode => n !== undefined);
    }
    if (node.kind === 'value') return valueChildren(node);
    return [];
  }

  getTreeItem(node: WatchNode): vscode.TreeItem {
    switch (node.kind) {
      case 'entry':
        return probeEntryItem(node.entry, 'call');
      case 'record': {
        const r = node.record;
        const item = new vscode.TreeItem(clockTime(r.time), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.key;
        // The value at a glance (the watch expression's result, args,kwargs by default), or what was raised.
        const raised = r.exception?.trim().split('\n').filter(Boolean).pop();
        item.description = [ms(r.costMs), r.isException ? `raised ${raised ?? ''}`.trim() : compact(r.value ?? '', 80)].filter(Boolean).join(' · ');
        item.iconPath = r.isException
          ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'))
          : new vscode.ThemeIcon('pass', new vscode.ThemeColor('charts.green'));
        item.tooltip = r.value ?? r.exception ?? '';
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
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon('lightbulb');
        return item;
      }
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
