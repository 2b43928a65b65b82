import * as vscode from 'vscode';
import type { Session } from '../session/session';
import { enclosingBlocks, functionOf, type Block, type EnclosingFunction } from './pythonSymbols';
import type { SourceLocation } from './probeStore';

export interface EditorTarget {
  module: string;
  function: EnclosingFunction;
  source: SourceLocation;
}

/** The `def` / `class` blocks open at the position, from the language server's symbols when there are any. */
async function fromDocumentSymbols(document: vscode.TextDocument, position: vscode.Position): Promise<Block[] | undefined> {
  let symbols: vscode.DocumentSymbol[] | undefined;
  try {
    symbols = await vscode.commands.executeCommand<vscode.DocumentSymbol[]>('vscode.executeDocumentSymbolProvider', document.uri);
  } catch {
    return undefined;
  }
  if (!symbols?.length) return undefined;
  const chain: Block[] = [];
  let level = symbols;
  for (;;) {
    const hit = level.find((s) => s.range.contains(position) && 'children' in s);
    if (!hit) break;
    const kind = hit.kind === vscode.SymbolKind.Class ? 'class'
      : hit.kind === vscode.SymbolKind.Function || hit.kind === vscode.SymbolKind.Method ? 'def' : undefined;
    if (kind) chain.push({ kind, name: hit.name, line: hit.selectionRange.start.line });
    level = hit.children;
  }
  return chain;
}

/**
 * The `def` / `class` blocks open at a position: document symbols when a Python extension provides
 * them, else our indentation parser (no language server offline). Watch and Inspect Value share it.
 */
export async function blocksAt(document: vscode.TextDocument, position: vscode.Position): Promise<Block[]> {
  return (await fromDocumentSymbols(document, position)) ?? enclosingBlocks(document.getText().split(/\r?\n/), position.line);
}

/**
 * What the user right-clicked: the enclosing function (symbols, else our indentation parser) and
 * the file's module name *as the target imported it* (`module` command), so `__main__` works.
 */
export async function editorTarget(session: Session, document: vscode.TextDocument, position: vscode.Position): Promise<EditorTarget | undefined> {
  const fn = functionOf(await blocksAt(document, position));
  if (!fn) return undefined;
  const { module } = await session.call('module', { file: document.uri.fsPath });
  return { module, function: fn, source: { file: document.uri.fsPath, line: fn.defLine + 1 } };
}

/** Where a function's code lives, asked of the target before it is instrumented (best effort). */
export async function sourceOf(session: Session, params: { module: string; class?: string; method: string; nested?: string }): Promise<SourceLocation | undefined> {
  if (params.nested) return undefined;
  try {
    const answer = await session.getglobal({ module: params.module, class: params.class, field: params.method, raw: true,
      expr: '(target.__code__.co_filename, target.__code__.co_firstlineno)' });
    const m = /^\('(.*)', (\d+)\)$/.exec(answer.value);
    return m ? { file: m[1].replace(/\\\\/g, '\\'), line: Number(m[2]) } : undefined;
  } catch {
    return undefined;
  }
}
