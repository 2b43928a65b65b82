import * as vscode from 'vscode';
import type { ProbeEntry, ProbeStore } from '../probes/probeStore';
import { probeKind, type ProbeMethod } from '../probes/probeKinds';
import { endText, ms, plural, recordNoun } from '../format/probeText';

/** The root node of a probe in the Watch / Trace / Time Tunnel views. */
export function probeEntryItem<M extends ProbeMethod>(entry: ProbeEntry<M>): vscode.TreeItem {
  const { probe } = entry;
  const noun = recordNoun(probe.method, probe.params);
  const item = new vscode.TreeItem(probe.location, vscode.TreeItemCollapsibleState.Expanded);
  item.id = `probe-${probe.id}`;
  const stats = probe.count ? ` · last ${ms(entry.lastCostMs)} · max ${ms(entry.maxCostMs)}` : '';
  let state: string;
  if (probe.state === 'installing') state = 'installing…';
  else if (probe.state === 'running') state = `live · ${plural(probe.count, noun)}`;
  else if (probe.state === 'failed') state = `failed: ${probe.error?.message ?? ''}`;
  else state = probe.summary ? endText(probe.summary, noun) : plural(probe.count, noun);
  item.description = `${state}${stats} · pid ${probe.pid}`;
  // The agent arguments carry PyFlight's own watch expression when the user gave none: too long to show.
  const args = probe.agentArgs && probe.agentArgs.length <= 300 ? probe.agentArgs : probe.location;
  item.tooltip = `${probeKind(probe.method).name} ${args}\nprocess ${probe.pid}` + (probe.summary ? `\nended: ${endText(probe.summary, noun)}` : '') +
    (probe.error?.hint ? `\n${probe.error.hint}` : '');
  item.iconPath = probe.state === 'failed'
    ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'))
    : new vscode.ThemeIcon(probe.isActive ? probeKind(probe.method).icon : 'circle-slash', probe.isActive ? new vscode.ThemeColor('charts.green') : undefined);
  item.contextValue = probe.isActive ? 'probe.active' : 'probe.ended';
  return item;
}

/** A one-line row: why a probe failed, a hint, a count of dropped records. */
export interface MessageNode {
  kind: 'message';
  text: string;
  key: string;
  /** Codicon; default `info` (`error` with `error`). */
  icon?: string;
  error?: boolean;
  tooltip?: string;
}

/** The row under a failed probe: the hint when there is one, else the error. */
export function failureRow<M extends ProbeMethod>(entry: ProbeEntry<M>, key: string, icon?: string): MessageNode | undefined {
  const error = entry.probe.error;
  return error ? { kind: 'message', text: error.hint ?? error.message, key, icon } : undefined;
}

export function messageItem(node: MessageNode): vscode.TreeItem {
  const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
  item.iconPath = node.error ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground')) : new vscode.ThemeIcon(node.icon ?? 'info');
  if (node.tooltip) item.tooltip = node.tooltip;
  return item;
}

/**
 * Root nodes that stay the same objects while a probe lives, so a view can refresh just the probe
 * that changed (VS Code matches refreshed elements by identity), and only when it is its kind.
 */
export class EntryNodes<M extends ProbeMethod> {
  private readonly nodes = new WeakMap<ProbeEntry<M>, { kind: 'entry'; entry: ProbeEntry<M> }>();

  constructor(private readonly method: M) {}

  node(entry: ProbeEntry<M>): { kind: 'entry'; entry: ProbeEntry<M> } {
    let node = this.nodes.get(entry);
    if (!node) this.nodes.set(entry, (node = { kind: 'entry', entry }));
    return node;
  }

  /** Refreshes a view on store changes: just the probe that changed, and only when it is this view's kind. */
  refreshOn(store: ProbeStore, fire: (node: { kind: 'entry'; entry: ProbeEntry<M> } | undefined) => void): { dispose(): void } {
    return store.onDidChange((entry) => {
      const node = this.changed(entry);
      if (node !== null) fire(node);
    });
  }

  /** What to pass to onDidChangeTreeData for a store change; `null` when this view is unaffected. */
  changed(entry: ProbeEntry | undefined): { kind: 'entry'; entry: ProbeEntry<M> } | undefined | null {
    if (!entry) return undefined;
    const own = entry.as(this.method);
    if (!own) return null;
    return this.nodes.get(own) ?? undefined;
  }
}

/** The probes started together on every worker of a server, as one row of a view. */
export interface WorkersNode<M extends ProbeMethod> {
  kind: 'workers';
  key: string;
  label: string;
  entries: ProbeEntry<M>[];
}

/**
 * A view's root rows: each probe, except that the probes of one worker group are one row
 * (at the place of the group's first probe).
 */
export function rootRows<M extends ProbeMethod, N>(entries: ProbeEntry<M>[], entryNode: (entry: ProbeEntry<M>) => N,
  workersNode: (node: WorkersNode<M>) => N): N[] {
  const groups = new Map<string, ProbeEntry<M>[]>();
  for (const e of entries) if (e.probe.group) groups.set(e.probe.group.key, [...(groups.get(e.probe.group.key) ?? []), e]);
  const shown = new Set<string>();
  return entries.flatMap((entry) => {
    const tag = entry.probe.group;
    if (!tag) return [entryNode(entry)];
    if (shown.has(tag.key)) return [];
    shown.add(tag.key);
    return [workersNode({ kind: 'workers', key: tag.key, label: tag.label, entries: groups.get(tag.key)! })];
  });
}

export function workersItem<M extends ProbeMethod>(node: WorkersNode<M>, noun: string): vscode.TreeItem {
  const first = node.entries[0];
  const count = node.entries.reduce((n, e) => n + e.probe.count, 0);
  const live = node.entries.filter((e) => e.probe.isActive).length;
  const item = new vscode.TreeItem(`${first.probe.location} · all workers`, vscode.TreeItemCollapsibleState.Expanded);
  item.id = node.key;
  item.description = `${node.label} · ${plural(node.entries.length, 'worker')}${live ? `, ${live} live` : ''} · ${plural(count, noun)}`;
  item.tooltip = `One ${probeKind(first.probe.method).name} on every worker of ${node.label}; workers it starts later get it too.`;
  item.iconPath = new vscode.ThemeIcon('layers');
  item.contextValue = 'probeGroup';
  return item;
}
