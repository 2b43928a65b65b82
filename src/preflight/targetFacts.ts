import * as path from 'node:path';
import { execa } from '../common/execa';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { TargetHost } from '../host/targetHost';

/** What we can learn about a target without touching it. Unreadable fields stay undefined. */
export interface TargetFacts {
  pid: number;
  /** The running binary (Linux: /proc/<pid>/exe). Loses the venv: see resolveInterpreter. */
  exe?: string;
  argv: string[];
  cwd?: string;
  /** Selected variables from the target's environment (VIRTUAL_ENV, CONDA_PREFIX, PYENV_VERSION, PATH). */
  env: Record<string, string>;
  /** Real uid of the owner. */
  uid?: number;
  /** Directories like <prefix>/lib/pythonX.Y/site-packages that the process has files mapped from. */
  sitePackages: string[];
  /** True when /proc shows the process but we may not read its exe link (another user's process). */
  exeUnreadable: boolean;
}

const ENV_KEYS = ['VIRTUAL_ENV', 'CONDA_PREFIX', 'PYENV_VERSION', 'PATH'];

/** Parses NUL-separated KEY=VALUE pairs, keeping only the keys we use. */
export function parseEnviron(raw: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of raw.split('\0')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && ENV_KEYS.includes(pair.slice(0, eq))) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** site-packages directories that appear in /proc/<pid>/maps (extension modules loaded from a venv). */
export function parseMapsSitePackages(maps: string): string[] {
  const found = new Set<string>();
  for (const match of maps.matchAll(/ (\/\S*?\/(?:lib|Lib)\/python\d+\.\d+\/site-packages)\//g)) found.add(match[1]);
  return [...found];
}

/** Linux: everything from /proc, read by the target's host. */
export async function readLinuxFacts(pid: number, host: TargetHost): Promise<TargetFacts> {
  const status = await host.readProc(pid, 'status');
  if (status === undefined) {
    throw new PyFlightError(ErrorCode.PidNotFound, `No process with PID ${pid} is running.`,
      'Pick a running process from the list, or check the PID.');
  }
  if (/^State:\s+[ZX]/m.test(status)) {
    throw new PyFlightError(ErrorCode.TargetExited, `Process ${pid} has already exited (it is a zombie).`,
      'Start the program again and attach to the new process.');
  }
  const uidMatch = /^Uid:\s+(\d+)/m.exec(status);
  let exe: string | undefined;
  let exeUnreadable = false;
  try {
    exe = (await host.readProcLink(pid, 'exe')).replace(/ \(deleted\)$/, '');
  } catch (error) {
    exeUnreadable = (error as NodeJS.ErrnoException).code === 'EACCES' || (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const [cmdline, environ, maps] = await Promise.all([
    host.readProc(pid, 'cmdline'),
    host.readProc(pid, 'environ'),
    host.readProc(pid, 'maps'),
  ]);
  let cwd: string | undefined;
  try {
    cwd = await host.readProcLink(pid, 'cwd');
  } catch {
    cwd = undefined;
  }
  return {
    pid,
    exe,
    argv: (cmdline ?? '').split('\0').filter((a) => a.length > 0),
    cwd,
    env: parseEnviron(environ ?? ''),
    uid: uidMatch ? Number(uidMatch[1]) : undefined,
    sitePackages: parseMapsSitePackages(maps ?? ''),
    exeUnreadable,
  };
}

/** Parses `ps -o uid=,comm= -p PID` (macOS prints the full executable path in comm). */
export function parsePsUidComm(output: string): { uid: number; exe: string } | undefined {
  const m = /^\s*(\d+)\s+(.+?)\s*$/m.exec(output);
  return m ? { uid: Number(m[1]), exe: m[2] } : undefined;
}

/** macOS: `ps` for owner and executable, `ps eww` for the environment, `lsof` for cwd. */
export async function readMacFacts(pid: number): Promise<TargetFacts> {
  const ps = await execa('ps', ['-o', 'uid=,comm=', '-p', String(pid)], { reject: false });
  const parsed = parsePsUidComm(ps.stdout);
  if (ps.exitCode !== 0 || !parsed) {
    throw new PyFlightError(ErrorCode.PidNotFound, `No process with PID ${pid} is running.`,
      'Pick a running process from the list, or check the PID.');
  }
  const args = await execa('ps', ['-ww', '-o', 'args=', '-p', String(pid)], { reject: false });
  const envOut = await execa('ps', ['eww', '-o', 'command=', '-p', String(pid)], { reject: false });
  const env: Record<string, string> = {};
  for (const key of ENV_KEYS) {
    const m = new RegExp(`(?:^|\\s)${key}=(\\S+)`).exec(envOut.stdout);
    if (m) env[key] = m[1];
  }
  const lsof = await execa('lsof', ['-a', '-p', String(pid), '-d', 'cwd', '-Fn'], { reject: false });
  const cwd = /^n(.+)$/m.exec(lsof.stdout)?.[1];
  return {
    pid,
    exe: path.isAbsolute(parsed.exe) ? parsed.exe : undefined,
    argv: args.stdout.trim().split(/\s+/).filter(Boolean),
    cwd,
    env,
    uid: parsed.uid,
    sitePackages: [],
    exeUnreadable: false,
  };
}

export function readTargetFacts(pid: number, host: TargetHost): Promise<TargetFacts> {
  if (!Number.isInteger(pid) || pid <= 0) {
    return Promise.reject(new PyFlightError(ErrorCode.BadArgument, `"${pid}" is not a valid PID.`,
      'A PID is a positive whole number, e.g. 12345.'));
  }
  if (process.platform === 'linux') return readLinuxFacts(pid, host);
  if (process.platform === 'darwin') return readMacFacts(pid);
  return Promise.reject(new PyFlightError(ErrorCode.UnsupportedPlatform,
    `PyFlight cannot attach on ${process.platform}.`, 'flight-profiler supports Linux x86_64 and macOS.'));
}
