/**
 * Whether a process runs in a container, as seen from the node: its own PID namespace (NSpid in
 * /proc/<pid>/status lists more than one pid) or another mount / network namespace than ours, and
 * which container, from its cgroup path (Docker, podman/libpod, containerd, CRI-O, Kubernetes pods).
 * Pure parsing: processLister.ts reads the files.
 */

export interface ContainerInfo {
  /** The container's id (12 characters, as `docker ps` shows it), when its cgroup names one. */
  id?: string;
  /** The runtime the cgroup path names (docker, libpod, containerd, crio, kubepods), when it does. */
  runtime?: string;
  /** The process's pid inside its own PID namespace, when it has one. */
  nsPid?: number;
  /** Namespaces it does not share with PyFlight: pid, mnt, net. */
  namespaces: string[];
}

/** NSpid of /proc/<pid>/status: [host pid, …, pid in its innermost namespace]. */
export function parseNsPids(status: string): number[] | undefined {
  const m = /^NSpid:\s+(.+)$/m.exec(status);
  return m ? m[1].trim().split(/\s+/).map(Number) : undefined;
}

/** A container id and runtime from /proc/<pid>/cgroup (cgroup v1 or v2 lines). */
export function parseCgroupContainer(cgroup: string): { id?: string; runtime?: string } {
  for (const line of cgroup.split('\n')) {
    const path = line.split(':').slice(2).join(':');
    const m = /(docker|libpod|cri-containerd|crio|containerd)[-/]([0-9a-f]{64})/.exec(path) ?? /\/(docker|kubepods)[^\n]*?\/([0-9a-f]{64})/.exec(path);
    if (m) return { id: m[2].slice(0, 12), runtime: m[1] === 'cri-containerd' ? 'containerd' : m[1] };
  }
  return {};
}

/**
 * The container facts of one process, or undefined when it shares PyFlight's namespaces and no
 * container cgroup: `theirs` / `ours` are the ns links (`pid:[4026531836]`) by kind.
 */
export function containerOf(status: string | undefined, cgroup: string | undefined,
  theirs: Record<string, string | undefined>, ours: Record<string, string | undefined>): ContainerInfo | undefined {
  const namespaces = ['pid', 'mnt', 'net'].filter((kind) => theirs[kind] && ours[kind] && theirs[kind] !== ours[kind]);
  const nsPids = status ? parseNsPids(status) : undefined;
  const { id, runtime } = cgroup ? parseCgroupContainer(cgroup) : {};
  if (!namespaces.length && !id) return undefined;
  return { namespaces, ...(id ? { id, runtime } : {}), ...(nsPids && nsPids.length > 1 ? { nsPid: nsPids[nsPids.length - 1] } : {}) };
}

/** "in container 3f2a9c1d0b7e (pid 1 there)", "in container (own pid, net namespaces; pid 1 there)". */
export function containerText(c: ContainerInfo): string {
  const there = c.nsPid !== undefined ? `pid ${c.nsPid} there` : '';
  if (c.id) return `in container ${c.id}${there ? ` (${there})` : ''}`;
  return `in container (own ${c.namespaces.join(', ')} namespace${c.namespaces.length === 1 ? '' : 's'}${there ? `; ${there}` : ''})`;
}
