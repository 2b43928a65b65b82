/**
 * The target lives on this machine and PyFlight reaches it directly: its /proc by its pid, the
 * files it names as named or through /proc/<pid>/root (its own mount namespace: a container,
 * systemd's PrivateTmp).
 */
import { spawn } from 'node:child_process';
import { promises as fs, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from '../common/execa';
import { cgroupDirs, cgroupPathOf, CPU_CGROUP_FILES, cpuCgroupMounts } from './cgroup';
import type { CgroupCpuLevel, ProcSource, TargetHost } from './targetHost';

const readText = (file: string) => fs.readFile(file, 'utf8').catch(() => undefined);

function orUndefined<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

const procSource: ProcSource = {
  list: () => orUndefined(() => readdirSync('/proc')) ?? [],
  read: (relative) => orUndefined(() => readFileSync(`/proc/${relative}`, 'utf8')),
  readLink: (relative) => orUndefined(() => readlinkSync(`/proc/${relative}`)),
  readPasswd: () => orUndefined(() => readFileSync('/etc/passwd', 'utf8')),
};

export const localHost: TargetHost = {
  spawnHelper(python, args, env) {
    return execa(python, [...args], {
      env,
      extendEnv: true,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      encoding: 'utf8',
      // Own process group: a terminal's Ctrl+C must not kill it before it turns its probes off.
      // It exits by itself when its stdin closes, so it cannot outlive us.
      detached: true,
    });
  },

  spawnPySpy(exe, args) {
    // Its own process group: a Ctrl+C in the terminal reaches us, and we stop py-spy ourselves.
    return spawn(exe, [...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  },

  privateDir(prefix, base) {
    return fs.mkdtemp(path.join(base ?? os.tmpdir(), prefix));
  },

  readProc(pid, file) {
    return readText(`/proc/${pid}/${file}`);
  },

  async readProcTasks(pid, file) {
    const tids = await fs.readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
    const texts = await Promise.all(tids.map((tid) => readText(`/proc/${pid}/task/${tid}/${file}`)));
    const byTid = new Map<number, string>();
    tids.forEach((tid, i) => { const text = texts[i]; if (text !== undefined) byTid.set(Number(tid), text); });
    return byTid;
  },

  async machineLoad() {
    const load = await readText('/proc/loadavg');
    const load1 = load ? Number(load.split(' ')[0]) : undefined;
    return { cpus: os.cpus().length || 1, ...(load1 !== undefined && Number.isFinite(load1) ? { load1 } : {}) };
  },

  async cpuCgroup(pid) {
    const procCgroup = await readText(`/proc/${pid}/cgroup`);
    if (!procCgroup) return [];
    // Our cgroup mounts first (the host's view: its path in /proc/<pid>/cgroup is relative to ours),
    // then the target's own, through its root (a target in its own mount namespace).
    const views: Array<[string | undefined, string]> = [[await readText('/proc/self/mountinfo'), ''], [await readText(`/proc/${pid}/mountinfo`), `/proc/${pid}/root`]];
    for (const [mountinfo, prefix] of views) {
      for (const mount of cpuCgroupMounts(mountinfo ?? '')) {
        const path = cgroupPathOf(procCgroup, mount.version);
        if (path === undefined) continue;
        const at = { ...mount, mountPoint: prefix + mount.mountPoint };
        // A container that mounted its own cgroup namespace sees its cgroup as the mount's top.
        const dirs = cgroupDirs(at, path);
        const levels: CgroupCpuLevel[] = [];
        for (const { dir, path: cgroup } of dirs.length || !prefix ? dirs : [{ dir: at.mountPoint, path }]) {
          const names = CPU_CGROUP_FILES[mount.version];
          const texts = await Promise.all(names.map((name) => readText(`${dir}/${name}`)));
          const files: Record<string, string> = {};
          names.forEach((name, i) => { if (texts[i] !== undefined) files[name] = texts[i]!; });
          if (!Object.keys(files).length) break; // not readable from here: the next view
          levels.push({ version: mount.version, path: cgroup, files });
        }
        if (levels.length) return levels;
      }
    }
    return [];
  },

  readProcLink(pid, link) {
    return fs.readlink(`/proc/${pid}/${link}`);
  },

  procSource() {
    return procSource;
  },

  readTargetFile(pid, file) {
    // As named, else through the target's root: a target in its own mount namespace (a container).
    for (const candidate of [file, `/proc/${pid}/root${file}`]) {
      try {
        return readFileSync(candidate, 'utf8');
      } catch {
        // not readable from here; try the next
      }
    }
    return undefined;
  },

  async isAlive(pid) {
    if (process.platform === 'linux') {
      const stat = await readText(`/proc/${pid}/stat`);
      const state = stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== undefined && state !== 'Z' && state !== 'X';
    }
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  },

  async tracerFacts() {
    const [scope, status, passwd] = await Promise.all([
      readText('/proc/sys/kernel/yama/ptrace_scope'),
      readText('/proc/self/status'),
      readText('/etc/passwd'),
    ]);
    return { euid: process.geteuid?.() ?? -1, ptraceScope: scope, ownStatus: status, passwd };
  },
};
