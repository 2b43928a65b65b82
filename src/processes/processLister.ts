import { containerOf } from './containers';
import { execa } from '../common/execa';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { localHost } from '../host/localHost';
import type { ProcSource } from '../host/targetHost';
import type { ProcessInfo } from './processInfo';
import { cpuPercent, isKernelThread, parseBootTime, parsePasswd, parseProcStat, parseUptime, toProcessInfo, type ProcContext,
  type ProcStat } from './procfsParser';
import { PS_ARGS, PS_COMM_ARGS, PS_USAGE_ARGS, parsePsOutput } from './psParser';
import { detectServers } from './pythonDetection';
import { confirmWorkers, pySpyMainFrames, workersOf, type MainFramesReader } from './workers';

export interface ListOptions {
  platform?: NodeJS.Platform;
  /** Linux only: where to read /proc from (tests replay a recorded tree). */
  procSource?: ProcSource;
  /** Left out of the list: the extension host itself by default. */
  selfPid?: number;
  /** Linux: measure CPU use over this many ms (a second read of every stat); 0 = not measured. */
  cpuSampleMs?: number;
  /** How a worker candidate's main-thread frames are read to confirm it runs worker code (workers.ts):
   * py-spy by default on the live Linux /proc, none for a replayed tree or elsewhere (`false`). */
  mainFrames?: MainFramesReader | false;
  log?: Logger;
}

/** Every process we can see except our own, with Python and pre-fork server roles detected (a
 * worker is a child that runs the server's worker code: workers.ts). */
export async function listProcesses(options: ListOptions = {}): Promise<ProcessInfo[]> {
  const platform = options.platform ?? process.platform;
  const mainFrames = options.mainFrames ?? (platform === 'linux' && !options.procSource && process.platform === 'linux' ? pySpyMainFrames() : false);
  let processes: ProcessInfo[];
  if (platform === 'linux') {
    // The worker check (py-spy, ~0.3 s) runs while the CPU use is being sampled; its verdicts are kept (workers.ts).
    const selfPid = options.selfPid ?? process.pid;
    processes = await listFromProc(options.procSource ?? localHost.procSource(), { cpuSampleMs: options.cpuSampleMs,
      ...(mainFrames ? { whileSampling: (first: ProcessInfo[]) => confirmWorkers(detectServers(first.filter((p) => p.pid !== selfPid)), mainFrames) } : {}) });
  } else if (platform === 'darwin') processes = await listFromPs(options.log);
  else {
    throw new PyFlightError(ErrorCode.UnsupportedPlatform, `Listing processes is not supported on ${platform}.`,
      'Enter the PID manually, or use PyFlight on Linux or macOS.');
  }
  const selfPid = options.selfPid ?? process.pid;
  const servers = detectServers(processes.filter((p) => p.pid !== selfPid));
  return mainFrames ? confirmWorkers(servers, mainFrames) : servers;
}

/** The processes, with only the children of `masterPid` confirmed as workers (not every server's on the machine). */
async function listForMaster(masterPid: number, options: ListOptions): Promise<ProcessInfo[]> {
  const all = await listProcesses({ cpuSampleMs: 0, ...options, mainFrames: false });
  const read = options.mainFrames ?? (process.platform === 'linux' && !options.procSource ? pySpyMainFrames() : false);
  if (!read) return all;
  const children = await confirmWorkers(all.filter((p) => p.ppid === masterPid), read);
  return [...all.filter((p) => p.ppid !== masterPid), ...children];
}

/** The workers of a server master, by pid (the one rule: workers.ts). */
export async function serverWorkers(masterPid: number, options: ListOptions = {}): Promise<number[]> {
  return workersOf(masterPid, await listForMaster(masterPid, options)).map((p) => p.pid);
}

/** The workers of a master, or an error that says why there are none (not a master, no workers now). */
export async function requireServerWorkers(masterPid: number, options: ListOptions = {}): Promise<number[]> {
  const all = await listForMaster(masterPid, options);
  const workers = workersOf(masterPid, all).map((p) => p.pid);
  if (workers.length) return workers;
  throw noWorkersError(masterPid, all);
}

/** Why `masterPid` has no workers to act on, in the words of the one rule (workers.ts). */
export function noWorkersError(masterPid: number, all: readonly ProcessInfo[]): PyFlightError {
  const master = all.find((p) => p.pid === masterPid);
  if (!master) return new PyFlightError(ErrorCode.PidNotFound, `Process ${masterPid} is not running.`, 'Check the PID (e.g. with `pyflight processes`).');
  const next = 'Run `pyflight processes` to see server masters with their workers; without --all-workers the command acts on this one process.';
  if (master.server?.role !== 'master') {
    return new PyFlightError(ErrorCode.NotPython, `Process ${masterPid} is not a gunicorn, uvicorn or celery master, so it has no workers.`, next);
  }
  return new PyFlightError(ErrorCode.NotPython, `${master.server.kind} master ${masterPid} has no workers right now `
    + `(a worker is a child that runs ${master.server.kind}'s worker code; its other children, such as multiprocessing's resource tracker, are not).`, next);
}

const BATCH = 100;

/**
 * Linux: every /proc/<pid>, skipping kernel threads and processes that exit while we read. With
 * `cpuSampleMs`, every listed process's stat is read again after that long and its CPU use over the
 * interval is set (processes gone by then get none).
 */
export async function listFromProc(source: ProcSource, options: { cpuSampleMs?: number; whileSampling?: (first: ProcessInfo[]) => Promise<unknown> } = {}): Promise<ProcessInfo[]> {
  const procStat = source.read('stat');
  const uptime = source.read('uptime');
  const context: ProcContext = { bootTime: procStat === undefined ? undefined : parseBootTime(procStat),
    users: parsePasswd(source.readPasswd() ?? ''), ...(uptime === undefined ? {} : { uptime: parseUptime(uptime) }) };
  const firstStats = new Map<number, ProcStat>();
  const firstAt = Date.now();
  const pids = source.list().filter((name) => /^\d+$/.test(name));
  const processes: ProcessInfo[] = [];
  for (let i = 0; i < pids.length; i += BATCH) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const pid of pids.slice(i, i + BATCH)) {
      const statText = source.read(`${pid}/stat`);
      const stat = statText === undefined ? undefined : parseProcStat(statText);
      if (!stat || isKernelThread(stat)) continue;
      firstStats.set(stat.pid, stat);
      processes.push(toProcessInfo({ stat, status: source.read(`${pid}/status`), cmdline: source.read(`${pid}/cmdline`),
        exeLink: source.readLink(`${pid}/exe`) }, context));
    }
  }
  markContainers(source, processes);
  markReloaders(source, processes);
  const sampleMs = options.cpuSampleMs ?? 0;
  if (sampleMs <= 0) return processes;
  await Promise.all([new Promise((resolve) => setTimeout(resolve, sampleMs)), options.whileSampling?.(processes).catch(() => undefined)]);
  const elapsedMs = Date.now() - firstAt;
  return processes.map((p) => {
    const again = source.read(`${p.pid}/stat`);
    const before = firstStats.get(p.pid);
    const cpu = again === undefined || !before ? undefined : sampleCpu(before, parseProcStat(again), elapsedMs);
    return cpu === undefined ? p : { ...p, cpuPercent: cpu };
  });
}

/** Python processes in a container (other namespaces than ours, a container cgroup) get `container`. */
function markContainers(source: ProcSource, processes: ProcessInfo[]): void {
  const links = (pid: string) => Object.fromEntries(['pid', 'mnt', 'net'].map((kind) => [kind, source.readLink(`${pid}/ns/${kind}`)]));
  const ours = links('self');
  for (const p of processes) {
    if (!p.isPython) continue;
    const container = containerOf(source.read(`${p.pid}/status`), source.read(`${p.pid}/cgroup`), links(String(p.pid)), ours);
    if (container) p.container = container;
  }
}

/** The environment variable a development server's reloader sets in the child it restarts, which runs the app. */
const RELOADED_CHILD = /(?:^|\0)(?:WERKZEUG_RUN_MAIN|RUN_MAIN)=true(?:\0|$)/;

/**
 * A reloader and the app it restarts (Flask's and Django's development servers): the reloader sets
 * the variable in the environment of the child it starts, which runs the app; the reloader's own
 * environment lacks it (a process the app starts inherits it, and is not restarted by the app). Its
 * command line may differ from the reloader's (the interpreter's full path). The reloader only
 * waits for the child: a diagnosis of it found "Mostly waiting … Popen._try_wait".
 */
function markReloaders(source: ProcSource, processes: ProcessInfo[]): void {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  const reloaded = (pid: number) => RELOADED_CHILD.test(source.read(`${pid}/environ`) ?? '');
  for (const child of processes) {
    const parent = byPid.get(child.ppid);
    if (!child.isPython || !parent?.isPython || parent.server || child.server) continue;
    if (!reloaded(child.pid) || reloaded(parent.pid)) continue;
    parent.server = { kind: 'reloader', role: 'master' };
    child.server = { kind: 'reloader', role: 'worker' };
  }
}

function sampleCpu(before: ProcStat, after: ProcStat | undefined, elapsedMs: number): number | undefined {
  return after ? cpuPercent(before, after, elapsedMs) : undefined;
}

/** macOS: three `ps` calls (see PS_ARGS for why not one), no shell. */
async function listFromPs(log?: Logger): Promise<ProcessInfo[]> {
  const options = { env: { LC_ALL: 'C' } };
  log?.debug(`LC_ALL=C ps ${PS_ARGS.join(' ')} & ps ${PS_COMM_ARGS.join(' ')} & ps ${PS_USAGE_ARGS.join(' ')}`);
  try {
    const [rows, comm, usage] = await Promise.all([execa('ps', [...PS_ARGS], options), execa('ps', [...PS_COMM_ARGS], options),
      execa('ps', [...PS_USAGE_ARGS], options)]);
    return parsePsOutput(rows.stdout, comm.stdout, usage.stdout);
  } catch (error) {
    throw new PyFlightError(ErrorCode.Internal, `ps failed: ${(error as Error).message}`,
      'Enter the PID manually.');
  }
}
