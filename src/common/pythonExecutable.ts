/**
 * THE rule for "is this a CPython executable", by file name (no file-system access): used by the
 * process picker (src/processes/pythonDetection.ts) and preflight (src/preflight/interpreter.ts),
 * so whatever the picker lists as Python, preflight accepts.
 *
 * python, python3, python3.11, pythonw, python3.13t (free-threaded), python3.11d (debug), ABI
 * suffixes combined (python3.13td), and macOS's framework binary `Python`. Not python3-config,
 * ipython, pypy (flight-profiler injects into CPython only).
 */
const CPYTHON_NAME = /^python(\d+(\.\d+)*)?[dmtw]*$/i;

/** The last path segment of a POSIX path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** True when the file name of `pathOrName` names a CPython interpreter. */
export function isPythonExecutable(pathOrName: string): boolean {
  return CPYTHON_NAME.test(baseName(pathOrName));
}
