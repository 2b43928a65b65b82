import * as vscode from 'vscode';
import type { ProbeEntry } from '../probes/probeStore';
import type { ProbeMethod } from '../session/probe';
import { ms } from './valueNodes';

const ICON: Record<string, string> = { watch: 'eye', trace: 'pulse', ttRecord: 'history' };

/** The root node of a probe in the Watch / Trace / Time Tunnel views. */
export function probeEntryItem<M extends ProbeMethod>(entry: ProbeEntry<M>, noun: string): vscode.TreeItem {
  const { probe } = entry;
  const item = new vscode.TreeItem(probe.location, vscode.TreeItemCollapsibleState.Expanded);
  item.id = `probe-${probe.id}`;
  const stats = probe.count ? ` · last ${ms(entry.lastCostMs)} · max ${ms(entry.maxCostMs)}` : '';
  let state: string;
  if (probe.state === 'installing') state = 'installing…';
  else if (probe.state === 'running') state = `live · ${probe.count} ${noun}${probe.count === 1 ? '' : 's'}`;
  else if (probe.state === 'failed') state = `failed: ${probe.error?.message ?? ''}`;
  else state = `${probe.count} ${noun}${probe.count === 1 ? '' : 's'} · ${probe.summary?.reason === 'limit' ? `ended: limit ${probe.summary.limit} reached` : 'stopped'}`;
  item.description = `${state}${stats} · pid ${probe.pid}`;
  item.tooltip = `${probe.method} ${probe.agentArgs ?? probe.location}\nprocess ${probe.pid}` + (probe.error?.hint ? `\n${probe.error.hint}` : '');
  item.iconPath = probe.state === 'failed'
    ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'))
    : new vscode.ThemeIcon(probe.isActive ? ICON[probe.method] : 'circle-slash', probe.isActive ? new vscode.ThemeColor('charts.green') : undefined);
  item.contextValue = probe.isActive ? 'probe.active' : 'probe.ended';
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

  /** What to pass to onDidChangeTreeData for a store change; `null` when this view is unaffected. */
  changed(entry: ProbeEntry | undefined): { kind: 'entry'; entry: ProbeEntry<M> } | undefined | null {
    if (!entry) return undefined;
    if (entry.probe.method !== this.method) return null;
    return this.nodes.get(entry as unknown as ProbeEntry<M>) ?? undefined;
  }
}
