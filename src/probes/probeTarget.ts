import * as vscode from 'vscode';
import type { Session } from '../session/session';
import { enclosingFunction, type EnclosingFunction } from './pythonSymbols';
import type { SourceLocation } from './probeStore';

export interface EditorTarget {
  module: string;
  function: EnclosingFunction;
  source: SourceLocation;
}

/** Function and class from the language server's symbols when there are any. */
async function fromDocumentSymbols(document: vscode.TextDocument, position: vscode.Position): Promise<EnclosingFunction | undefined> {
  let symbols: vscode.DocumentSymbol[] | undefined;
  try {
    symbols = await vscode.commands.executeCommand<vscode.DocumentSymbol[]>('vscode.executeDocumentSymbolProvider', document.uri);
  } catch {
    return undefined;
  }
  const chain: vscode.DocumentSymbol[] = [];
  let level = symbols ?? [];
  for (;;) {
    const hit = level.find((s) => s.range.contains(position) && 'children' in s);
    if (!hit) break;
    chain.push(hit);
    level = hit.children;
  }
  const isFunction = (s: vscode.DocumentSymbol) => s.kind === vscode.SymbolKind.Function || s.kind === vscode.SymbolKind.Method;
  const first = chain.findIndex(isFunction);
  if (first < 0) return undefined;
  const owner = chain[first - 1];
  const nested = chain.slice(first + 1).find(isFunction);
  return { class: owner?.kind === vscode.SymbolKind.Class ? owner.name : undefined, method: chain[first].name,
    nested: nested?.name, defLine: chain[first].selectionRange.start.line };
}

/**
 * What the user right-clicked: the enclosing function (symbols, else our indentation parser) and
 * the file's module name *as the target imported it* (`module` command), so `__main__` works.
 */
export async function editorTarget(session: Session, document: vscode.TextDocument, position: vscode.Position): Promise<EditorTarget | undefined> {
  const fn = (await fromDocumentSymbols(document, position)) ?? enclosingFunction(document.getText().split(/\r?\n/), position.line);
  if (!fn) return undefined;
  const { module } = await session.module(document.uri.fsPath);
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
