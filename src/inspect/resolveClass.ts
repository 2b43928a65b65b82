/**
 * The class a name in a file stands for, asked of the target in one getglobal on the file's own
 * module: `Order` defined there, `Entry` imported from elsewhere, `cache.Entry` through a module
 * alias all resolve to the class's real `__module__` and `__qualname__`, which vmtool needs.
 */
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Session } from '../session/session';
import type { ValueAt } from './valueTarget';

const DESCRIBE = "(getattr(target, '__module__', None), getattr(target, '__qualname__', None), isinstance(target, type), type(target).__name__)";

export async function resolveClass(session: Session, fileModule: string, name: ValueAt, signal?: AbortSignal): Promise<{ module: string; class: string }> {
  // A nested class (`Outer.Inner`, from the cursor being in its body) is looked up as an attribute of the outer one.
  const parts = [...(name.class ? name.class.split('.') : []), ...name.field.split('.')];
  const field = parts.pop()!;
  const owner = parts.length ? parts.join('.') : undefined;
  const answer = await session.getglobal({ module: fileModule, class: owner, field, expr: DESCRIBE, raw: true, imported: true }, signal);
  const m = /^\((?:'([\w.]+)'|None), (?:'([\w.<>]+)'|None), (True|False), '(\w+)'\)$/.exec(answer.value);
  const shown = [owner, field].filter(Boolean).join('.');
  if (!m || m[3] !== 'True' || !m[1] || !m[2]) {
    throw new PyFlightError(ErrorCode.ClassNotFound, `${shown} in module ${fileModule} is not a class${m ? ` (it is a ${m[4]})` : ''}.`,
      'Put the cursor on a class name (its `class` line, or where it is used), or inside the class.');
  }
  return { module: m[1], class: m[2] };
}
