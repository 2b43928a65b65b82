import type { ProcessInfo } from './processInfo';
import { isPythonProcess } from './pythonDetection';

/**
 * Arguments for `ps` (macOS and Linux procps accept both). `args` may contain spaces, so it is the
 * last column; `comm` may too (a macOS path like `/Applications/Visual Studio Code.app/...`), so it
 * comes from a second call where it is last as well. Run with LC_ALL=C so `lstart` is in English.
 */
export const PS_ARGS = ['-axww', '-o', 'pid=,ppid=,uid=,user=,lstart=,args='] as const;
export const PS_COMM_ARGS = ['-axww', '-o', 'pid=,comm='] as const;
/** CPU (macOS: decaying average over about a minute; procps: since start) and resident memory in KiB. */
export const PS_USAGE_ARGS = ['-axww', '-o', 'pid=,%cpu=,rss='] as const;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// pid ppid uid user  lstart = "Wed Nov 25 21:07:27 2026"  args
const ROW = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})(?: (.*))?$/;

/** One line of `ps PS_ARGS` output. */
export interface PsRow {
  pid: number;
  ppid: number;
  uid: number;
  user: string;
  /** Epoch ms; ps prints local time, so this is read in the local time zone too. */
  startedAt?: number;
  args: string;
}

export function parsePsRows(output: string): PsRow[] {
  const rows: PsRow[] = [];
  for (const line of output.split('\n')) {
    const m = ROW.exec(line);
    if (!m) continue;
    const month = MONTHS.indexOf(m[5]);
    const startedAt = month < 0 ? undefined : new Date(+m[10], month, +m[6], +m[7], +m[8], +m[9]).getTime();
    rows.push({ pid: +m[1], ppid: +m[2], uid: +m[3], user: m[4], ...(startedAt === undefined ? {} : { startedAt }),
      args: (m[11] ?? '').trimEnd() });
  }
  return rows;
}

/** pid → comm from `ps PS_COMM_ARGS` (macOS: the executable's full path; procps: its 15-byte name). */
export function parsePsComm(output: string): Map<number, string> {
  const comm = new Map<number, string>();
  for (const line of output.split('\n')) {
    const m = /^\s*(\d+) (.*)$/.exec(line);
    if (m && m[2].trim()) comm.set(+m[1], m[2].trim());
  }
  return comm;
}

/** pid → CPU % and resident bytes from `ps PS_USAGE_ARGS` (`%cpu` may print a comma in other locales: run with LC_ALL=C). */
export function parsePsUsage(output: string): Map<number, { cpuPercent: number; rssBytes: number }> {
  const usage = new Map<number, { cpuPercent: number; rssBytes: number }>();
  for (const line of output.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+(?:\.\d+)?)\s+(\d+)\s*$/.exec(line);
    if (m) usage.set(+m[1], { cpuPercent: +m[2], rssBytes: +m[3] * 1024 });
  }
  return usage;
}

/** ProcessInfo for each row (server roles are set later, across the list). */
export function parsePsOutput(output: string, commOutput = '', usageOutput = ''): ProcessInfo[] {
  const comm = parsePsComm(commOutput);
  const usage = parsePsUsage(usageOutput);
  return parsePsRows(output).map((row) => {
    const executable = comm.get(row.pid);
    const used = usage.get(row.pid);
    return {
      pid: row.pid,
      ppid: row.ppid,
      user: row.user,
      uid: row.uid,
      ...(row.startedAt === undefined ? {} : { startedAt: row.startedAt }),
      commandLine: row.args,
      ...(executable ? { executable } : {}),
      ...(used ?? {}),
      isPython: isPythonProcess(executable, row.args.split(' ')[0]),
    };
  });
}
