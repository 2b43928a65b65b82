/**
 * Where each module-level function and each method of a module-level class starts in a Python
 * file (pure, indentation-based): the functions Reload can swap, and where their CodeLens goes.
 */
export interface FunctionAt {
  class?: string;
  function: string;
  /** 0-based line of the `def` */
  line: number;
}

const DEF = /^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(/;
const CLASS = /^class\s+([A-Za-z_]\w*)\s*[(:]/;

export function reloadableFunctions(lines: readonly string[]): FunctionAt[] {
  const found: FunctionAt[] = [];
  let currentClass: string | undefined;
  let methodIndent: number | undefined;
  lines.forEach((text, line) => {
    if (!text.trim() || /^\s*#/.test(text)) return;
    const indent = text.length - text.trimStart().length;
    if (indent === 0) {
      currentClass = CLASS.exec(text)?.[1];
      methodIndent = undefined;
      const def = DEF.exec(text);
      if (def) found.push({ function: def[2], line });
      return;
    }
    if (!currentClass) return;
    methodIndent ??= indent; // the class body's indentation: deeper defs are nested functions
    const def = DEF.exec(text);
    if (def && indent === methodIndent) found.push({ class: currentClass, function: def[2], line });
  });
  return found;
}

/** The current line of a function the target named (the editor may have moved it since). */
export function lineOf(functions: readonly FunctionAt[], cls: string | null | undefined, name: string): number | undefined {
  return functions.find((f) => (f.class ?? null) === (cls ?? null) && f.function === name)?.line;
}
