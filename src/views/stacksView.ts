import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { activityText, blockedText, deadlockText, probableDeadlockText, probableLockCycles, formatFrame, heldByText, groupIdenticalStacks, isStdlibFrame, lockCycles, mainFrame, mostlyRunning, NOT_A_PROFILE,
  type StackGroup } from '../format/stackFormat';
import { openSourceCommand } from './valueNodes';
import type { AsyncTask, BlockedOn, StackFrame, StackResult, ThreadStack } from '../protocol/helper';

export { isStdlibFrame };

/** A node of the Stacks view (the argument of Copy on a thread or frame). */
export type StackNode =
  | { kind: 'thread'; thread: ThreadStack; expand: boolean }
  | { kind: 'group'; group: StackGroup }
  | { kind: 'frame'; frame: StackFrame; key: string }
  | { kind: 'nativeGroup'; thread: ThreadStack }
  | { kind: 'asyncGroup'; tasks: AsyncTask[] }
  | { kind: 'task'; task: AsyncTask; key: string }
  | { kind: 'blockedOn'; blockedOn: BlockedOn; key: string }
  | { kind: 'note'; text: string; description?: string; tooltip?: string; icon?: 'error' | 'warning' };
type Node = StackNode;

/** Label of a thread or a group: where it is first (what a narrow sidebar must not cut), then who. */
function whereLabel(frames: readonly StackFrame[]): string | undefined {
  const main = mainFrame(frames);
  return main ? `in ${main.function}` : undefined;
}

/** The row under a waiting thread or group that says what it waits for, and opens that line. */
function blockedChild(thread: ThreadStack, key: string): Node[] {
  return thread.blockedOn ? [{ kind: 'blockedOn', blockedOn: thread.blockedOn, key }] : [];
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
      // Most threads running: the snapshot is one sample of where they are, not where time goes.
      if (mostlyRunning(r)) roots.unshift({ kind: 'note', text: 'One snapshot is not a profile', description: 'most threads are running code · Refresh a few times, or Trace', tooltip: NOT_A_PROFILE });
      // A lock cycle first, by its name: the threads in it never move again.
      for (const cycle of lockCycles(r).reverse()) {
        roots.unshift({ kind: 'note', text: `Deadlock: ${cycle.join(' ⇄ ')}`, description: `each waits for a lock ${cycle.length === 2 ? 'the other' : 'the next'} holds`,
          tooltip: `${deadlockText(r, cycle)}.\nA lock cycle does not resolve itself: the process must be restarted. Diagnose it (hang) to check it lasts and see where each lock was taken.`, icon: 'error' });
      }
      // A cycle through locks of the same name on objects that could not be told apart (no locals read):
      // probably a deadlock; the hang diagnosis checks that the threads never move.
      for (const cycle of probableLockCycles(r).reverse()) {
        roots.unshift({ kind: 'note', text: `Probably a deadlock: ${cycle.join(' ⇄ ')}`, description: 'each waits for a lock of the same name another holds',
          tooltip: `${probableDeadlockText(r, cycle)}.\n`
            + 'Which object each lock belongs to could not be read (locals are read only on Linux, with py-spy), so this is a likely cycle, not a proven one. '
            + 'Diagnose it (hang): it checks over several samples that these threads never move.', icon: 'warning' });
      }
      if (r.hiddenAgentThreads) roots.push({ kind: 'note', text: `${r.hiddenAgentThreads} profiler agent threads hidden (setting pyflight.stacks.showAgentThreads)` });
      return roots;
    }
    switch (node.kind) {
      case 'thread': {
        const frames = [...blockedChild(node.thread, `t${node.thread.tid}`), ...this.frames(node.thread.frames, `t${node.thread.tid}`)];
        return node.thread.nativeFrames?.length ? [...frames, { kind: 'nativeGroup', thread: node.thread }] : frames;
      }
      case 'nativeGroup':
        return this.frames(node.thread.nativeFrames ?? [], `n${node.thread.tid}`);
      case 'group':
        return [...blockedChild(node.group.threads[0], `g${node.group.threads[0].tid}`), ...this.frames(node.group.frames, `g${node.group.threads[0].tid}`)];
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
        const where = whereLabel(t.frames);
        const item = new vscode.TreeItem(where ? `${where} · ${t.name}` : t.name,
          node.expand ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `thread-${this.result?.capturedAt}-${t.tid}`;
        const doing = activityText(t);
        item.description = [doing, heldByText(t.blockedOn), t.holdsGil ? 'holds GIL' : '', t.gcCollecting ? 'GC' : '', t.daemon ? 'daemon' : '', `tid ${t.tid}`,
          t.frames.length ? '' : 'no Python frames'].filter(Boolean).join(' · ');
        item.iconPath = threadIcon(t);
        item.tooltip = [`${t.name} (tid ${t.tid})`, where, doing ? `${doing}${blockedWhere(t.blockedOn)}` : '', t.holdsGil ? 'holds the GIL' : '',
          t.daemon ? 'daemon' : ''].filter(Boolean).join('\n');
        item.contextValue = 'thread';
        return item;
      }
      case 'blockedOn': {
        const b = node.blockedOn;
        const item = new vscode.TreeItem(blockedText(b), None);
        item.id = `blocked-${this.result?.capturedAt}-${node.key}`;
        item.description = [b.file ? `${path.basename(b.file)}${b.line ? `:${b.line}` : ''}` : '', heldByText(b)].filter(Boolean).join(' · ');
        item.tooltip = `${blockedText(b)}${blockedWhere(b)}${b.via ? `\nin ${b.via}` : ''}${b.heldBy?.length
          ? `\n${heldByText(b)} (inside \`with ${b.expression}:\` in the same file)` : ''}`;
        item.iconPath = new vscode.ThemeIcon('lock', new vscode.ThemeColor('charts.orange'));
        if (b.file && existsSync(b.file)) item.command = openSourceCommand(b.file, b.line);
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
        const where = whereLabel(frames);
        // "in reserve_inventory · 4 threads": ~300 px of sidebar shows about 33 characters of label.
        const item = new vscode.TreeItem(`${where ? `${where} · ` : ''}${threads.length} threads`, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `group-${this.result?.capturedAt}-${threads[0].tid}`;
        const doing = activityText(threads[0]);
        item.description = [doing, heldByText(threads[0].blockedOn), 'same stack', threads.some((t) => t.holdsGil) ? 'one holds GIL' : '',
          threads.map((t) => t.name).join(', ')].filter(Boolean).join(' · ');
        item.tooltip = [`${threads.length} threads are at exactly the same place${where ? ` (${where})` : ''}${doing ? `, ${doing}${blockedWhere(threads[0].blockedOn)}` : ''}:`,
          ...threads.map((t) => `${t.name} (tid ${t.tid})`)].join('\n');
        item.iconPath = new vscode.ThemeIcon(threads[0].blockedOn ? 'lock' : 'layers', new vscode.ThemeColor('charts.orange'));
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
        item.iconPath = node.icon === 'error' ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'))
          : node.icon === 'warning' ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('editorWarning.foreground')) : new vscode.ThemeIcon('info');
        if (node.description) item.description = node.description;
        if (node.tooltip) item.tooltip = node.tooltip;
        return item;
      }
    }
  }

  dispose(): void {
    this.changed.dispose();
  }
}

function blockedWhere(b: BlockedOn | undefined): string {
  return b?.file ? ` (${path.basename(b.file)}${b.line ? `:${b.line}` : ''})` : '';
}

function threadIcon(t: ThreadStack): vscode.ThemeIcon {
  if (t.blockedOn) return new vscode.ThemeIcon('lock', new vscode.ThemeColor('charts.orange'));
  if (t.holdsGil) return new vscode.ThemeIcon('debug-stackframe-focused');
  return new vscode.ThemeIcon(t.activity === 'sleeping' || t.activity === 'waiting' ? 'debug-pause' : 'debug-stackframe');
}

/** Text for "Copy" on a thread or frame node. */
export function nodeText(n: StackNode | undefined): string | undefined {
  if (!n) return undefined;
  if (n.kind === 'frame') return formatFrame(n.frame);
  if (n.kind === 'thread') return [`${n.thread.name} (tid ${n.thread.tid})${activityText(n.thread) ? ` — ${activityText(n.thread)}` : ''}`, ...n.thread.frames.map((f) => `    ${formatFrame(f)}`)].join('\n');
  if (n.kind === 'group') return [`${n.group.threads.map((t) => t.name).join(', ')}${activityText(n.group.threads[0]) ? ` — ${activityText(n.group.threads[0])}` : ''}`, ...n.group.frames.map((f) => `    ${formatFrame(f)}`)].join('\n');
  return undefined;
}
