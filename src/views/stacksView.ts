import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatFrame, groupIdenticalStacks, type StackGroup } from '../commands/stackFormat';
import { openSourceCommand } from './valueNodes';
import type { AsyncTask, StackFrame, StackResult, ThreadStack } from '../protocol/helper';

/** A node of the Stacks view (the argument of Copy on a thread or frame). */
export type StackNode =
  | { kind: 'thread'; thread: ThreadStack; expand: boolean }
  | { kind: 'group'; group: StackGroup }
  | { kind: 'frame'; frame: StackFrame; key: string }
  | { kind: 'nativeGroup'; thread: ThreadStack }
  | { kind: 'asyncGroup'; tasks: AsyncTask[] }
  | { kind: 'task'; task: AsyncTask; key: string }
  | { kind: 'note'; text: string };
type Node = StackNode;

/** A stdlib frame lives under the interpreter's lib/pythonX.Y but not in site-packages. */
export function isStdlibFrame(frame: StackFrame): boolean {
  const file = frame.file ?? '';
  return /\/lib\/python\d+\.\d+\//.test(file) && !file.includes('site-packages');
}

/** Stacks view: threads → frames (most recent first), each frame opens its source line. */
export class StacksView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  result: StackResult | undefined;
  label = '';
  private showStdlib = true;

  setResult(result: StackResult | undefined, label: string, showStdlib: boolean): void {
    this.result = result;
    this.label = label;
    this.showStdlib = showStdlib;
    this.changed.fire(undefined);
  }

  getChildren(node?: Node): Node[] {
    const r = this.result;
    if (!r) return [];
    if (!node) {
      // Identical stacks are one node ("4 threads at reserve_inventory"); native dumps stay per thread.
      const groups = r.native ? r.threads.map((t) => ({ threads: [t], frames: t.frames })) : groupIdenticalStacks(r.threads);
      const roots: Node[] = groups.map((group): Node => (group.threads.length > 1 ? { kind: 'group', group }
        : { kind: 'thread', thread: group.threads[0], expand: group.frames.some((f) => !isStdlibFrame(f)) }));
      // Asked for explicitly, so shown first (below the threads it would be scrolled out of sight).
      if (r.asyncTasks) roots.unshift({ kind: 'asyncGroup', tasks: r.asyncTasks });
      if (r.hiddenAgentThreads) roots.push({ kind: 'note', text: `${r.hiddenAgentThreads} profiler agent threads hidden (setting pyflight.stacks.showAgentThreads)` });
      return roots;
    }
    switch (node.kind) {
      case 'thread': {
        const frames = this.frames(node.thread.frames, `t${node.thread.tid}`);
        return node.thread.nativeFrames?.length ? [...frames, { kind: 'nativeGroup', thread: node.thread }] : frames;
      }
      case 'nativeGroup':
        return this.frames(node.thread.nativeFrames ?? [], `n${node.thread.tid}`);
      case 'group':
        return this.frames(node.group.frames, `g${node.group.threads[0].tid}`);
      case 'asyncGroup':
        return node.tasks.map((task, i) => ({ kind: 'task', task, key: `task${i}` }));
      case 'task':
        return this.frames(node.task.frames, node.key);
      default:
        return [];
    }
  }

  private frames(frames: StackFrame[], key: string): Node[] {
    return frames
      .filter((f) => this.showStdlib || !isStdlibFrame(f) || f.kind === 'native')
      .map((frame, i) => ({ kind: 'frame', frame, key: `${key}-${i}` }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const None = vscode.TreeItemCollapsibleState.None;
    switch (node.kind) {
      case 'thread': {
        const t = node.thread;
        const item = new vscode.TreeItem(t.name, node.expand ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `thread-${this.result?.capturedAt}-${t.tid}`;
        const top = t.frames[0];
        item.description = [`tid ${t.tid}`, t.holdsGil ? 'holds GIL' : '', t.gcCollecting ? 'GC' : '', t.daemon ? 'daemon' : '',
          top ? `in ${top.function}` : 'no Python frames'].filter(Boolean).join(' · ');
        item.iconPath = new vscode.ThemeIcon(t.holdsGil ? 'debug-stackframe-focused' : 'debug-stackframe');
        item.tooltip = `${t.name} (tid ${t.tid})${t.holdsGil ? '\nholds the GIL' : ''}`;
        item.contextValue = 'thread';
        return item;
      }
      case 'frame': {
        const f = node.frame;
        const item = new vscode.TreeItem(f.function, None);
        item.id = `frame-${this.result?.capturedAt}-${node.key}`;
        item.description = f.file ? `${path.basename(f.file)}${f.line ? `:${f.line}` : ''}` : f.library ? path.basename(f.library) : '';
        item.tooltip = formatFrame(f);
        item.iconPath = new vscode.ThemeIcon(f.kind === 'native' ? 'symbol-constructor' : isStdlibFrame(f) ? 'library' : 'symbol-function');
        item.contextValue = 'frame';
        // Frames from another filesystem (a container, a deleted file) are shown but not linked.
        if (f.file && existsSync(f.file)) item.command = openSourceCommand(f.file, f.line);
        return item;
      }
      case 'group': {
        const { threads, frames } = node.group;
        const item = new vscode.TreeItem(`${threads.length} threads: ${threads.map((t) => t.name).join(', ')}`, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `group-${this.result?.capturedAt}-${threads[0].tid}`;
        item.description = `same stack${frames[0] ? ` · in ${frames[0].function}` : ''}${threads.some((t) => t.holdsGil) ? ' · one holds GIL' : ''}`;
        item.tooltip = `${threads.length} threads are at exactly the same place:\n${threads.map((t) => `${t.name} (tid ${t.tid})`).join('\n')}`;
        item.iconPath = new vscode.ThemeIcon('layers', new vscode.ThemeColor('charts.orange'));
        item.contextValue = 'thread';
        return item;
      }
      case 'nativeGroup': {
        const item = new vscode.TreeItem(`Native frames (${node.thread.nativeFrames?.length ?? 0})`, vscode.TreeItemCollapsibleState.Collapsed);
        item.iconPath = new vscode.ThemeIcon('chip');
        return item;
      }
      case 'asyncGroup': {
        const item = new vscode.TreeItem(`Async tasks (${node.tasks.length})`, node.tasks.length ? vscode.TreeItemCollapsibleState.Expanded : None);
        item.iconPath = new vscode.ThemeIcon('symbol-event');
        if (!node.tasks.length) item.description = 'no running event loop with tasks';
        return item;
      }
      case 'task': {
        const t = node.task;
        const item = new vscode.TreeItem(t.name, vscode.TreeItemCollapsibleState.Collapsed);
        item.description = [t.running ? 'running now' : t.state, t.coroutine, `on ${t.thread}`].filter(Boolean).join(' · ');
        item.iconPath = new vscode.ThemeIcon(t.running ? 'play-circle' : 'symbol-event');
        return item;
      }
      case 'note': {
        const item = new vscode.TreeItem(node.text, None);
        item.iconPath = new vscode.ThemeIcon('info');
        return item;
      }
    }
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** Text for "Copy" on a thread or frame node. */
export function nodeText(n: StackNode | undefined): string | undefined {
  if (!n) return undefined;
  if (n.kind === 'frame') return formatFrame(n.frame);
  if (n.kind === 'thread') return [`${n.thread.name} (tid ${n.thread.tid})`, ...n.thread.frames.map((f) => `    ${formatFrame(f)}`)].join('\n');
  if (n.kind === 'group') return [n.group.threads.map((t) => t.name).join(', '), ...n.group.frames.map((f) => `    ${formatFrame(f)}`)].join('\n');
  return undefined;
}
