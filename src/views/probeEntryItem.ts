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
