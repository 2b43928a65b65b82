/**
 * Source lines of a target's files, read through its host (so a target in a container has its
 * own files read), or, for a profile opened from a file, as the paths say here: the profile's idle
 * rule (waits.ts) and the diagnosis read the line a sample was at. Each file is read once.
 */
import { readFileSync } from 'node:fs';
import type { TargetProcess } from '../host/targetHost';

export function sourceLineReader(target?: TargetProcess): (file: string, line: number) => string | undefined {
  const files = new Map<string, string[] | undefined>();
  const read = (file: string): string | undefined => {
    if (target) return target.host.readTargetFile(target.pid, file);
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined; // not readable from here
    }
  };
  return (file, line) => {
    if (!files.has(file)) files.set(file, read(file)?.split('\n'));
    return files.get(file)?.[line - 1];
  };
}
