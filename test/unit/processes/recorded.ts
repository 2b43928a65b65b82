import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ProcSource } from '../../../src/host/targetHost';

/** test/fixtures/recorded/processes (see its README.md for how each file was captured). */
export const RECORDED = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'recorded', 'processes');

export const recordedFile = (...parts: string[]) => readFileSync(path.join(RECORDED, ...parts), 'utf8');
export const recordedProcFile = (pid: number | string, name: string) => recordedFile('linux', 'proc', String(pid), name);

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Replays a recorded /proc tree (the servers', or another capture's folder under RECORDED); each
 * `exe` link was saved as a text file holding its target. */
export function recordedProcSource(root = RECORDED): ProcSource {
  const proc = path.join(root, 'linux', 'proc');
  return {
    list: () => readdirSync(proc),
    read: (relative) => readOrUndefined(path.join(proc, relative)),
    readLink: (relative) => readOrUndefined(path.join(proc, relative)),
    readPasswd: () => readOrUndefined(path.join(root, 'linux', 'etc', 'passwd')),
  };
}
