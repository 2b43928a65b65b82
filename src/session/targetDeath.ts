/**
 * A target that died while PyFlight was attached, said as such: every command during which it
 * exited fails with TARGET_EXITED ("process 123 exited during gilstat: killed by SIGSEGV"), never
 * with an end line that looks like success. How it ended can be read only while the process is a
 * zombie (its parent has not reaped it yet: `/proc/<pid>/stat` field 52, the wait status); a
 * process reaped at once (most parents) is "exited while PyFlight was attached". The kernel log,
 * which names a crash's signal and library, is not readable by an unprivileged user.
 */
import { constants } from 'node:os';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { TargetHost } from '../host/targetHost';

export interface TargetDeath {
  /** `SIGSEGV`: killed by this signal (read from a zombie's wait status). */
  signal?: string;
  /** Exit status, when it exited by itself and it could be read. */
  code?: number;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** How a process ended, from its `/proc/<pid>/stat` text (undefined or not a zombie: unknown). */
export function deathFromStat(stat: string | undefined): TargetDeath {
  if (!stat) return {};
  const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state); exit_code is field 52 (Linux 3.5+), so fields[49].
  if (fields[0] !== 'Z' || fields.length < 50) return {};
  const status = Number(fields[49]);
  if (!Number.isInteger(status)) return {};
  const signal = status & 0x7f;
  if (signal) return { signal: SIGNAL_NAMES.get(signal) ?? `signal ${signal}` };
  return { code: (status >> 8) & 0xff };
}

/** Undefined while the process runs; how it ended (as far as can be told) once it does not. */
export async function targetDeath(host: TargetHost, pid: number): Promise<TargetDeath | undefined> {
  if (await host.isAlive(pid)) return undefined;
  return deathFromStat(await host.readProc(pid, 'stat'));
}

/** "process 123 exited during gilstat: killed by SIGSEGV while PyFlight was attached". */
export function deathText(pid: number, death: TargetDeath, during?: string): string {
  const what = `process ${pid} ${during ? `exited during ${during}` : 'exited'}`;
  if (death.signal) return `${what}: killed by ${death.signal} while PyFlight was attached`;
  if (death.code !== undefined) return `${what} (exit status ${death.code}) while PyFlight was attached`;
  return `${what}, while PyFlight was attached`;
}

export function deathHint(death: TargetDeath): string {
  const crashed = death.signal && ['SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGILL', 'SIGFPE'].includes(death.signal);
  return (crashed ? 'It crashed: please report it with its Python version (`pyflight check` shows it). ' : '')
    + 'The system log (`journalctl -k` or `dmesg`, as root) says whether it crashed and where. '
    + 'Start the program again and attach to the new process.';
}

export function targetExitedError(pid: number, death: TargetDeath, during?: string): PyFlightError {
  return new PyFlightError(ErrorCode.TargetExited, deathText(pid, death, during), deathHint(death), { ...death, during });
}

const noticed = new WeakSet<object>();

/** True the first time for a session: several probes ending with one death give one warning. */
export function firstDeathNotice(session: object): boolean {
  if (noticed.has(session)) return false;
  noticed.add(session);
  return true;
}
