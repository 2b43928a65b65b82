import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import type { SessionManager } from '../session/sessionManager';
import { blocksAt } from '../probes/probeTarget';
import type { LiveValues } from './liveValues';
import { moduleClasses, moduleLevelNames, valueAt } from './valueTarget';
import { shortType, valueLocation } from './valueText';
import { setting } from '../common/config';

const MAX_CHARS = 1500;
const MAX_LINES = 25;

/**
 * The live value of a module global (or a class attribute) under the mouse, in a file of an
 * attached process whose agent is loaded already. Names the file does not assign at top level
 * (locals, builtins, imports) are not asked about. Setting `pyflight.hoverValues`.
 */
export class ValueHover implements vscode.HoverProvider {
  constructor(private readonly sessions: SessionManager, private readonly values: LiveValues) {}

  async provideHover(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    if (!setting('hoverValues')) return undefined;
    const live = this.sessions.live.filter((s) => s.agentLoaded);
    if (!live.length || document.uri.scheme !== 'file') return undefined;
    const lines = document.getText().split(/\r?\n/);
    const what = valueAt(lines, position.line, position.character, await blocksAt(document, position));
    if (!what || token.isCancellationRequested) return undefined;
    if (what.class ? !moduleClasses(lines).has(what.class.split('.')[0]) : !moduleLevelNames(lines).has(what.field)) return undefined;
    const current = this.sessions.current;
    const ordered = current && live.includes(current) ? [current, ...live.filter((s) => s !== current)] : live;
    const found = await this.values.valueOf(ordered, document.uri.fsPath, what);
    if (!found || token.isCancellationRequested) return undefined;
    const { result, session } = found;
    let text = result.value;
    const lineList = text.split('\n');
    if (lineList.length > MAX_LINES) text = `${lineList.slice(0, MAX_LINES).join('\n')}\n…`;
    if (text.length > MAX_CHARS) text = `${text.slice(0, MAX_CHARS)}…`;
    const md = new vscode.MarkdownString();
    md.appendMarkdown('**PyFlight** live value · process ');
    md.appendText(`${session.pid} · ${valueLocation(result)} · ${shortType(result.type)}`);
    md.appendCodeblock(text, 'text');
    const args = encodeURIComponent(JSON.stringify([{ pid: session.pid, module: result.module, class: result.class ?? undefined, field: result.field }]));
    md.appendMarkdown(`[Inspect Value](command:${CommandId.inspectValue}?${args} "Open it in the Values view (refresh, depth, expression, document)")`);
    md.isTrusted = { enabledCommands: [CommandId.inspectValue] };
    return new vscode.Hover(md);
  }
}
