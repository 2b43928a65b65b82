import type { ProcessInfo } from './processInfo';
import { baseName, isPyFlightOwnProcess, isPyPy, isPythonName, isShell, type ServerKind } from './pythonDetection';

/**
 * What the process picker shows, in order, without any UI text: processPicker.ts turns each entry
 * into a localized QuickPickItem. Kept free of `vscode` so ordering and grouping are unit-tested.
 */
export type PickerEntry =
  | { type: 'separator'; section: 'python' | 'other' }
  | { type: 'separator'; section: 'server'; kind: ServerKind; masterPid: number }
  | {
      type: 'process';
      process: ProcessInfo;
      /** Python (or plain), a server master, one of its workers (shown indented), or a non-Python process. */
      place: 'python' | 'master' | 'worker' | 'other';
      shortCommand: string;
      /** Compact time since start (`42s`, `5m`, `2h`, `3d`), when the start time is known. */
      age?: string;
      /** PyPy is listed with the other processes and marked: flight-profiler cannot attach to it. */
      pypy: boolean;
      /** `CPU 12%`, when measured (see ProcessInfo.cpuPercent for over what). */
      cpu?: string;
      /** `45 MB` resident. */
      memory?: string;
    };

export interface PickerOptions {
  showAllProcesses: boolean;
  /** Epoch ms, for ages. */
  now: number;
}

export function formatAge(startedAt: number | undefined, now: number): string | undefined {
  if (startedAt === undefined) return undefined;
  const seconds = Math.max(0, Math.floor((now - startedAt) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** `CPU 12%`; under 1 % with one decimal (`CPU 0.4%`) so an idle process is not confused with a stuck reading. */
export function formatCpu(percent: number | undefined): string | undefined {
  if (percent === undefined) return undefined;
  const text = percent === 0 || percent >= 1 ? String(Math.round(percent)) : percent.toFixed(1);
  return `CPU ${text}%`;
}

/** Resident memory, two significant figures: `900 KB`, `8.6 MB`, `26 MB`, `3.0 GB`. */
export function formatMemory(bytes: number | undefined): string | undefined {
  if (bytes === undefined) return undefined;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * Started less than a second ago. With a precise age (Linux) that is what it says; with a start time
 * only (whole seconds: ps lstart), up to two seconds.
 */
export function isJustStarted(process: Pick<ProcessInfo, 'ageMs' | 'startedAt'>, now: number): boolean {
  if (process.ageMs !== undefined) return process.ageMs < 1000;
  return process.startedAt !== undefined && now - process.startedAt < 2000;
}

/**
 * A readable label for a command line: directories are dropped from argv[0], and a console script
 * next to its interpreter (`/venv/bin/python3 /venv/bin/gunicorn ...`) shows as the script alone.
 */
export function shortCommand(commandLine: string, maxLength = 60): string {
  const argv = commandLine.split(' ');
  let words = [baseName(argv[0]), ...argv.slice(1)];
  if (isPythonName(argv[0]) && argv[1] && !argv[1].startsWith('-')) {
    const consoleScript = argv[1].includes('/') && dirName(argv[1]) === dirName(argv[0]);
    words = consoleScript ? [baseName(argv[1]), ...argv.slice(2)] : [words[0], baseName(argv[1]), ...argv.slice(2)];
  }
  const text = words.join(' ');
  return text.length > maxLength ? `${text.slice(0, maxLength - 1).trimEnd()}…` : text;
}

function dirName(path: string): string {
  return path.slice(0, path.lastIndexOf('/') + 1);
}

/** Most recently started first; unknown start times last; then the higher (newer) pid. */
export function byRecency(a: ProcessInfo, b: ProcessInfo): number {
  const at = a.startedAt ?? -Infinity;
  const bt = b.startedAt ?? -Infinity;
  return at !== bt ? (bt > at ? 1 : -1) : b.pid - a.pid;
}

/**
 * Python processes first, newest first. A server master and its workers move as one unit, placed by
 * the master's start time, under their own separator; workers follow their master in pid order.
 * Then, when asked, the other processes under one separator.
 */
export function buildPickerEntries(all: readonly ProcessInfo[], options: PickerOptions): PickerEntry[] {
  const processes = all.filter((p) => !isPyFlightOwnProcess(p));
  const python = processes.filter((p) => p.isPython);
  const masters = new Map(python.filter((p) => p.server?.role === 'master').map((p) => [p.pid, p]));
  const workersOf = new Map<number, ProcessInfo[]>();
  for (const p of python) {
    const master = masters.get(p.ppid);
    if (p.server?.role === 'worker' && master?.server?.kind === p.server.kind) {
      workersOf.set(master.pid, [...(workersOf.get(master.pid) ?? []), p]);
    }
  }
  const grouped = new Set([...workersOf.values()].flat().map((p) => p.pid));
  const entry = (process: ProcessInfo, place: Extract<PickerEntry, { type: 'process' }>['place']): PickerEntry => {
    const age = process.ageMs !== undefined ? formatAge(options.now - process.ageMs, options.now) : formatAge(process.startedAt, options.now);
    const cpu = formatCpu(process.cpuPercent);
    const memory = formatMemory(process.rssBytes);
    return { type: 'process', process, place, shortCommand: shortCommand(process.commandLine),
      ...(age === undefined ? {} : { age }), pypy: isPyPy(process), ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) };
  };

  const out: PickerEntry[] = [];
  let inPlainRun = false;
  for (const p of python.filter((q) => !grouped.has(q.pid)).sort(byRecency)) {
    if (masters.has(p.pid) && p.server) {
      out.push({ type: 'separator', section: 'server', kind: p.server.kind, masterPid: p.pid }, entry(p, 'master'));
      for (const w of (workersOf.get(p.pid) ?? []).sort((a, b) => a.pid - b.pid)) out.push(entry(w, 'worker'));
      inPlainRun = false;
    } else {
      // A run of plain Python processes after a server group needs its own heading again.
      if (!inPlainRun) out.push({ type: 'separator', section: 'python' });
      out.push(entry(p, 'python'));
      inPlainRun = true;
    }
  }
  const others = processes.filter((p) => !p.isPython);
  if (options.showAllProcesses && others.length > 0) {
    // Shells a second old are the ones VS Code, git and terminals start and end all the time: newest
    // first would put them at the top of the list, so they go last.
    const transient = (p: ProcessInfo) => isShell(p) && isJustStarted(p, options.now);
    const sorted = [...others].sort((a, b) => Number(transient(a)) - Number(transient(b)) || byRecency(a, b));
    out.push({ type: 'separator', section: 'other' }, ...sorted.map((p) => entry(p, 'other')));
  }
  return out;
}

/** A PID typed by hand: a positive whole number, or undefined. */
export function parsePid(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return undefined;
  const pid = Number(trimmed);
  return pid > 0 && Number.isSafeInteger(pid) ? pid : undefined;
}
