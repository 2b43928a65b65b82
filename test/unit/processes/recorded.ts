import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ProcSource } from '../../../src/host/targetHost';

/** test/fixtures/recorded/processes (see its README.md for how each file was captured). */
export const RECORDED = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'recorded', 'processes');
const PROC = path.join(RECORDED, 'linux', 'proc');

export const recordedFile = (...parts: string[]) => readFileSync(path.join(RECORDED, ...parts), 'utf8');
export const recordedProcFile = (pid: number | string, name: string) => recordedFile('linux', 'proc', String(pid), name);

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Replays the recorded /proc tree; each `exe` link was saved as a text file holding its target. */
export function recordedProcSource(): ProcSource {
  return {
    list: () => readdirSync(PROC),
    read: (relative) => readOrUndefined(path.join(PROC, relative)),
    readLink: (relative) => readOrUndefined(path.join(PROC, relative)),
    readPasswd: () => readOrUndefined(path.join(RECORDED, 'linux', 'etc', 'passwd')),
  };
}
