import { ErrorCode, PyFlightError } from '../common/errors';
import type { TargetHost } from '../host/targetHost';
import { parsePasswd } from '../processes/procfsParser';
import type { TargetFacts } from './targetFacts';

const CAP_SYS_PTRACE = 19n;

export interface PtraceEnvironment {
  euid: number;
  /** kernel.yama.ptrace_scope, undefined when Yama is not enabled. */
  ptraceScope?: number;
  hasCapSysPtrace: boolean;
  userName: (uid: number) => string;
}

export async function readPtraceEnvironment(host: TargetHost): Promise<PtraceEnvironment> {
  const { euid, ptraceScope: scope, ownStatus: status, passwd } = await host.tracerFacts();
  const capEff = /^CapEff:\s+([0-9a-f]+)/m.exec(status ?? '')?.[1];
  const users = parsePasswd(passwd ?? '');
  return {
    euid,
    ptraceScope: scope === undefined ? undefined : Number(scope.trim()),
    hasCapSysPtrace: capEff ? ((BigInt('0x' + capEff) >> CAP_SYS_PTRACE) & 1n) === 1n : false,
    userName: (uid) => users.get(uid) ?? String(uid),
  };
}

/** Pure: may a process with `env` ptrace the target? Throws PERMISSION_DENIED with the fix. */
export function checkPtracePermission(facts: TargetFacts, env: PtraceEnvironment): void {
  const me = env.userName(env.euid);
  const owner = facts.uid === undefined ? 'another user' : env.userName(facts.uid);
  if (env.euid === 0) {
    if (!env.hasCapSysPtrace) {
      throw new PyFlightError(ErrorCode.PermissionDenied,
        'PyFlight runs as root but without the CAP_SYS_PTRACE capability (typical in containers).',
        'Start the container with --cap-add=SYS_PTRACE (and --security-opt seccomp=unconfined).');
    }
    return;
  }
  if (facts.exeUnreadable || (facts.uid !== undefined && facts.uid !== env.euid)) {
    throw new PyFlightError(ErrorCode.PermissionDenied,
      `Process ${facts.pid} belongs to ${owner}; PyFlight runs as ${me} and may not attach to it.`,
      `Run VS Code (or pyflight) as ${owner}, or as root.`);
  }
  if (env.ptraceScope === undefined || env.ptraceScope === 0 || env.hasCapSysPtrace) return;
  const why = env.ptraceScope === 3
    ? 'kernel.yama.ptrace_scope is 3: attaching is disabled on this machine until reboot.'
    : `kernel.yama.ptrace_scope is ${env.ptraceScope}: only ${env.ptraceScope === 1 ? "a process's parent" : 'root'} may attach to it.`;
  throw new PyFlightError(ErrorCode.PermissionDenied, `Not allowed to attach to process ${facts.pid}: ${why}`,
    env.ptraceScope === 3 ? 'Run PyFlight as root.'
      : 'Run `sudo sysctl kernel.yama.ptrace_scope=0` (until reboot), or run VS Code as root.');
}
