import * as vscode from 'vscode';
import { compact } from '../format/probeText';

/**
 * A labelled value rendered by the agent (args, return value, exception). Target data is
 * untrusted display text: it only ever goes into TreeItem labels/descriptions (plain text) and
 * into the clipboard, never into HTML or code.
 */
export interface ValueNode {
  kind: 'value';
  key: string;
  label: string;
  text: string;
  error?: boolean;
}

export interface LineNode {
  kind: 'line';
  key: string;
  text: string;
}

export function valueNode(key: string, label: string, text: string | null | undefined, error = false): ValueNode | undefined {
  return text === null || text === undefined ? undefined : { kind: 'value', key, label, text, error };
}

export function valueChildren(node: ValueNode): LineNode[] {
  const lines = node.text.split('\n');
  return lines.length > 1 ? lines.map((text, i) => ({ kind: 'line', key: `${node.key}/${i}`, text })) : [];
}

export function valueItem(node: ValueNode): vscode.TreeItem {
  const lines = node.text.split('\n');
  const item = new vscode.TreeItem(node.label, lines.length > 1 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
  item.id = node.key;
  // One line at a glance; expand for the agent's indented rendering.
  item.description = lines.length > 1 ? compact(node.text) : node.text;
  item.tooltip = node.text.length > 4000 ? node.text.slice(0, 4000) + '…' : node.text;
  item.iconPath = new vscode.ThemeIcon(node.error ? 'error' : 'symbol-variable', node.error ? new vscode.ThemeColor('errorForeground') : undefined);
  item.contextValue = 'value';
  return item;
}

export function lineItem(node: LineNode): vscode.TreeItem {
  // Leading spaces carry the agent's indentation; keep them visible (labels trim nothing).
  const item = new vscode.TreeItem(node.text.replace(/ /g, '\u00a0') || '\u00a0', vscode.TreeItemCollapsibleState.None);
  item.id = node.key;
  item.contextValue = 'value';
  return item;
}

export function openSourceCommand(file: string | null | undefined, line: number | null | undefined): vscode.Command | undefined {
  if (!file || !line) return undefined;
  const at = Math.max(0, line - 1);
  return { command: 'vscode.open', title: 'Open Source', arguments: [vscode.Uri.file(file), { selection: new vscode.Range(at, 0, at, 0), preview: true }] };
}
