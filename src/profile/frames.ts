/**
 * One frame of a py-spy stack: its text (`name (file:line)` for Python frames, `name (library.so)`
 * or `0x7f… (library.so)` for native ones) parsed, and what kind of code it is (own code, library,
 * stdlib, native, idle), told by path. Pure functions, no I/O, no vscode.
 */
import { isWaitFunction } from './waits';

/** own: under the workspace root; library: site-/dist-packages (or outside the root); stdlib: the
 * interpreter's lib/pythonX.Y; native: C/C++/Rust code (no .py file); idle: a function that waits
 * (waits.ts), or a frame of a sample that waits (what a wait calls, a leaf at a blocking call). */
export type FrameKind = 'own' | 'library' | 'stdlib' | 'native' | 'idle';

export interface ParsedFrame {
  name: string;
  file?: string;
  line?: number;
}

export interface FrameInfo extends ParsedFrame {
  /** Dotted module for Python files (`json.encoder`), the library's file name for native frames. */
  module?: string;
  kind: FrameKind;
}

export interface ClassifyOptions {
  /** Files under these folders are own code (the VS Code workspace). Without any, every Python
   * file that is not a library or the standard library is own code. */
  workspaceRoots?: string[];
  /** The standard library folders of the target's interpreter (e.g. `/usr/lib/python3.11`); files
   * under `…/lib/pythonX.Y/` outside site-packages count as stdlib without it. */
  stdlibDirs?: string[];
  /** The source line of a Python frame, when it can be read: a sample whose leaf is at a blocking
   * call (`time.sleep(…)`, `sock.recv(…)`, `with lock:`) is idle (waits.ts). */
  lineText?: (file: string, line: number) => string | undefined;
  /** Thread ids (as py-spy reports them) that are PyFlight's own, e.g. as the agent reported them:
   * their samples are left out (threads.ts). */
  pyflightThreadIds?: Iterable<number>;
}

const FRAME = /^(.*) \(([^()]*)\)$/;

/** `name (file:line)` → its parts; `name (file)` for native frames; a bare name as is. */
export function parseFrame(text: string): ParsedFrame {
  const m = FRAME.exec(text);
  if (!m) return { name: text };
  const [, name, where] = m;
  const colon = /^(.*):(\d+)$/.exec(where);
  if (colon) return { name, file: colon[1], line: Number(colon[2]) };
  return where ? { name, file: where } : { name };
}

const SITE = /[\\/](site|dist)-packages[\\/]/;
const STDLIB = /[\\/]lib[\\/]python\d+\.\d+[a-z]*[\\/]/i;
const PYTHON_FILE = /\.pyw?$/;

function under(file: string, dirs: string[] | undefined): string | undefined {
  for (const dir of dirs ?? []) {
    const root = dir.endsWith('/') ? dir : dir + '/';
    if (file.startsWith(root)) return file.slice(root.length);
  }
  return undefined;
}

function dotted(relative: string): string {
  const parts = relative.replace(PYTHON_FILE, '').split(/[\\/]/).filter(Boolean);
  if (parts.length > 1 && parts[parts.length - 1] === '__init__') parts.pop();
  return parts.join('.');
}

/** What a file tells of its frames: their kind (before the wait rule, which needs the name) and module. */
export interface FileClass {
  kind: Exclude<FrameKind, 'idle'>;
  module?: string;
}

/** What kind of code a frame is, and its module where the path tells. */
export function classifyFrame(frame: ParsedFrame, options: ClassifyOptions = {}): FrameInfo {
  return frameInfo(frame, classifyFile(frame.file, options));
}

/** A frame's info from its file's class (classifyFile, which a caller may keep per file): a
 * function that waits is `idle`, whether or not py-spy was asked for idle threads. */
export function frameInfo(frame: ParsedFrame, { kind, module }: FileClass): FrameInfo {
  const waits = isWaitFunction(frame.name, kind, module);
  // Built key by key, not spread: a profile describes thousands of frames.
  const info: FrameInfo = { name: frame.name, kind: waits ? 'idle' : kind };
  if (frame.file !== undefined) info.file = frame.file;
  if (frame.line !== undefined) info.line = frame.line;
  if (module) info.module = module;
  return info;
}

/** The kind and module of the frames in `file` (none: a native frame with no library). */
export function classifyFile(file: string | undefined, options: ClassifyOptions = {}): FileClass {
  const frozen = file ? /^<frozen (.+)>$/.exec(file) : null;
  const isPython = Boolean(file && (PYTHON_FILE.test(file) || file.startsWith('<')));
  if (!file || !isPython || /\.so(\.|$)/.test(file)) return { kind: 'native', module: file ? file.split(/[\\/]/).pop() : undefined };
  const site = SITE.exec(file);
  const stdlibMatch = site ? null : STDLIB.exec(file);
  const stdlibRel = under(file, options.stdlibDirs) ?? (stdlibMatch ? file.slice(stdlibMatch.index + stdlibMatch[0].length) : undefined);
  if (frozen || (!site && stdlibRel !== undefined)) return { kind: 'stdlib', module: frozen ? frozen[1] : dotted(stdlibRel!) };
  if (site) return { kind: 'library', module: dotted(file.slice(site.index + site[0].length)) };
  // Code compiled from a string (`python -c`, multiprocessing's spawn bootstrap, jinja's `<template>`)
  // has no file of the user's to open: never own code, with or without a workspace.
  if (file.startsWith('<')) return { kind: 'library' };
  const fileModule = dotted(file.split(/[\\/]/).pop()!);
  const roots = options.workspaceRoots?.filter(Boolean) ?? [];
  if (!roots.length) return { kind: 'own', module: fileModule };
  const rel = under(file, roots);
  return rel !== undefined ? { kind: 'own', module: dotted(rel) } : { kind: 'library', module: fileModule };
}
