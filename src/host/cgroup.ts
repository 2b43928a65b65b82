/**
 * Where a process's CPU cgroup is (pure): its line of /proc/<pid>/cgroup and the cgroup mounts of a
 * /proc/<pid>/mountinfo. cgroup v1 names the `cpu` controller on its own line (`4:cpu,cpuacct:/docker/ab`),
 * cgroup v2 has one line (`0::/system.slice/x.service`); a hybrid machine (v1 controllers, v2 mounted
 * beside them without `cpu`) has both, and the v1 line is the one whose files limit the CPU.
 */

export interface CgroupMount {
  version: 1 | 2;
  /** Where it is mounted, in the namespace whose mountinfo was read. */
  mountPoint: string;
  /** The cgroup the mount shows as its top (`/` unless a container mounted its own). */
  root: string;
}

/** The cgroup mounts that carry the CPU controller: v1 mounts with the `cpu` option, and v2 mounts. */
export function cpuCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [fsType, , superOptions = ''] = right.split(' ');
    const unescape = (s: string) => s.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    const mount = { mountPoint: unescape(fields[4] ?? ''), root: unescape(fields[3] ?? '/') };
    if (fsType === 'cgroup2') mounts.push({ version: 2, ...mount });
    else if (fsType === 'cgroup' && superOptions.split(',').includes('cpu')) mounts.push({ version: 1, ...mount });
  }
  // v1 first: on a hybrid machine the v2 mount has no cpu controller.
  return mounts.sort((a, b) => a.version - b.version);
}

/** The process's cgroup path for a hierarchy version, from /proc/<pid>/cgroup. */
export function cgroupPathOf(procCgroup: string, version: 1 | 2): string | undefined {
  for (const line of procCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (version === 2 && m[1] === '0' && m[2] === '') return m[3];
    if (version === 1 && m[2].split(',').includes('cpu')) return m[3];
  }
  return undefined;
}

/**
 * The directories of a cgroup and its parents in a mount, leaf first, each with its cgroup path;
 * only those at or below the mount's top (a container that mounted its own cgroup sees no parent).
 */
export function cgroupDirs(mount: CgroupMount, path: string): Array<{ dir: string; path: string }> {
  const root = mount.root === '/' ? '' : mount.root.replace(/\/$/, '');
  if (root && path !== root && !path.startsWith(`${root}/`)) return [];
  const dirs: Array<{ dir: string; path: string }> = [];
  let p = path.replace(/\/$/, '');
  for (;;) {
    dirs.push({ dir: `${mount.mountPoint.replace(/\/$/, '')}${p.slice(root.length)}` || '/', path: p || '/' });
    if (p === root || !p) break;
    p = p.slice(0, p.lastIndexOf('/'));
  }
  return dirs;
}

/** The files of the CPU controller read for a hierarchy version. */
export const CPU_CGROUP_FILES: Record<1 | 2, readonly string[]> = {
  1: ['cpu.cfs_quota_us', 'cpu.cfs_period_us', 'cpu.stat'],
  2: ['cpu.max', 'cpu.stat'],
};
