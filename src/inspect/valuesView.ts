import * as vscode from 'vscode';
import { sessionStateText } from '../session/sessionText';
import type { Inspection, Inspections } from './inspections';
import { hexId, instancesHeadline, shortType, valueLocation, valueOptions } from './valueText';
import { isScalar, oneLine, valueTree, type ValueTreeNode } from './valueTree';

/** Rows of the Values view. Target text only ever reaches labels, descriptions and tooltips (plain text). */
export type ValuesNode =
  | { kind: 'inspection'; inspection: Inspection }
  | { kind: 'value'; key: string; label: string; value: string; text: string; children: ValueTreeNode[] }
  | { kind: 'instance'; key: string; inspection: Inspection; index: number; type: string; id: number; text: string }
  | { kind: 'message'; key: string; text: string; error?: boolean };

function treeNodes(key: string, nodes: ValueTreeNode[]): ValuesNode[] {
  return nodes.map((n, i) => ({ kind: 'value', key: `${key}/${i}`, label: n.label, value: n.value, text: n.text, children: n.children }));
}


/** Root label: `CONFIG`, `Order.TAX_RATE`, `Order (instances)`; the module goes in the description. */
function rootLabel(inspection: Inspection): string {
  if (inspection.kind === 'instances') return inspection.params.class;
  return [inspection.params.class, inspection.params.field].filter(Boolean).join('.');
}

function rootDescription(inspection: Inspection): string {
  const state = inspection.session.state;
  const where = `${inspection.params.module} · pid ${inspection.session.pid}${state === 'ready' ? '' : ` · ${sessionStateText(state)}`}`;
  if (inspection.loading) return `reading… · ${where}`;
  if (inspection.error) return `${inspection.error.message} · ${where}`;
  if (inspection.kind === 'instances') {
    const r = inspection.result!;
    return `${r.count.toLocaleString('en-US')} live instance${r.count === 1 ? '' : 's'}${r.expr ? ` · ${r.expr} = ${oneLine(r.value ?? '', 60)}` : ''} · ${where}`;
  }
  const r = inspection.result!;
  const value = isScalar(r.value) ? ` = ${oneLine(r.value, 80)}` : '';
  return `${shortType(r.type)}${value} · ${where}`;
}

/** The Values view: each value read (Inspect Value) and each instance listing, newest first. */
export class ValuesView implements vscode.TreeDataProvider<ValuesNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ValuesNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly roots = new Map<number, ValuesNode>();
  private readonly subscriptions: Array<{ dispose(): void }>;

  /** `sessionsChanged`: a process that exits or is detached marks its rows (they are not re-read then). */
  constructor(private readonly inspections: Inspections, sessionsChanged: (listener: () => void) => { dispose(): void }) {
    // The whole (small) tree: a new root, or a root whose id changed with its read, is not a known element to refresh.
    this.subscriptions = [inspections.onDidChange(() => this.changed.fire(undefined)), sessionsChanged(() => this.changed.fire(undefined))];
  }

  /** One node object per inspection, so reveal() and refreshes find the same row. */
  rootOf(inspection: Inspection): ValuesNode {
    let node = this.roots.get(inspection.id);
    if (!node) {
      node = { kind: 'inspection', inspection };
      this.roots.set(inspection.id, node);
    }
    return node;
  }

  getParent(): undefined {
    return undefined;
  }

  getChildren(node?: ValuesNode): ValuesNode[] {
    if (!node) {
      for (const id of this.roots.keys()) if (!this.inspections.get(id)) this.roots.delete(id);
      return this.inspections.all.map((i) => this.rootOf(i));
    }
    if (node.kind === 'value') return treeNodes(node.key, node.children);
    if (node.kind === 'instance') return treeNodes(`${node.key}/v`, valueTree(node.text));
    if (node.kind !== 'inspection') return [];
    const { inspection } = node;
    const key = `i${inspection.id}`;
    if (inspection.error) {
      return [{ kind: 'message', key: `${key}/error`, text: inspection.error.hint ?? inspection.error.message, error: true }];
    }
    if (!inspection.result) return [];
    if (inspection.kind === 'value') {
      const value = inspection.result.value;
      return isScalar(value) ? [] : treeNodes(key, valueTree(value));
    }
    const r = inspection.result;
    if (r.expr !== undefined) {
      const value = r.value ?? '';
      return [{ kind: 'value', key: `${key}/expr`, label: r.expr, value: oneLine(value), text: value, children: value.includes('\n') ? valueTree(value) : [] }];
    }
    const rows: ValuesNode[] = r.instances.map((instance, index) => ({ kind: 'instance', key: `${key}/${index}`, inspection, index, type: instance.type, id: instance.id, text: instance.value }));
    if (r.count > r.instances.length) {
      rows.push({ kind: 'message', key: `${key}/more`, text: `${r.instances.length} of ${r.count.toLocaleString('en-US')} shown: Change Options… (-n) for more` });
    }
    return rows;
  }

  getTreeItem(node: ValuesNode): vscode.TreeItem {
    switch (node.kind) {
      case 'inspection': {
        const { inspection } = node;
        const expandable = inspection.error || (inspection.result && (inspection.kind === 'instances' || !isScalar(inspection.result.value)));
        const item = new vscode.TreeItem(rootLabel(inspection), expandable ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
        // A new id each read keeps VS Code from reusing the old row's collapsed state after a refresh.
        item.id = `i${inspection.id}/${inspection.readAt?.getTime() ?? 0}`;
        item.description = rootDescription(inspection);
        const options = inspection.result ? valueOptions(inspection.result) : '';
        const what = inspection.kind === 'value' ? valueLocation(inspection.params)
          : inspection.result ? instancesHeadline(inspection.result) : `instances of ${inspection.params.module}.${inspection.params.class}`;
        item.tooltip = [what,
          `process ${inspection.session.pid}${options ? ` · ${options}` : ''}`, inspection.readAt ? `read at ${inspection.readAt.toLocaleTimeString()}` : ''].filter(Boolean).join('\n');
        item.iconPath = new vscode.ThemeIcon(inspection.error ? 'error' : inspection.kind === 'instances' ? 'symbol-class' : 'symbol-variable',
          inspection.error ? new vscode.ThemeColor('errorForeground') : undefined);
        item.contextValue = `inspection.${inspection.kind}`;
        return item;
      }
      case 'value': {
        const item = new vscode.TreeItem(node.label, node.children.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        item.id = node.key;
        item.description = node.value;
        item.tooltip = node.text.length > 4000 ? `${node.text.slice(0, 4000)}…` : node.text;
        item.contextValue = 'value';
        return item;
      }
      case 'instance': {
        const item = new vscode.TreeItem(`[${node.index + 1}] ${node.type.split('.').pop()}`, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.key;
        item.description = `${hexId(node.id)} · ${oneLine(node.text, 100)}`;
        item.tooltip = `${node.type} at ${hexId(node.id)}\n\n${node.text.length > 4000 ? `${node.text.slice(0, 4000)}…` : node.text}`;
        item.iconPath = new vscode.ThemeIcon('symbol-object');
        item.contextValue = 'value';
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.id = node.key;
        item.iconPath = new vscode.ThemeIcon(node.error ? 'lightbulb' : 'info');
        return item;
      }
    }
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
  }
}
