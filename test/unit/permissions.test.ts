import assert from 'node:assert/strict';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { checkPtracePermission, type PtraceEnvironment } from '../../src/preflight/permissions';
import type { TargetFacts } from '../../src/preflight/targetFacts';

const target = (uid: number | undefined, exeUnreadable = false): TargetFacts =>
  ({ pid: 42, exe: exeUnreadable ? undefined : '/usr/bin/python3', argv: ['python3'], env: {}, uid, sitePackages: [], exeUnreadable });
const env = (euid: number, ptraceScope: number | undefined, hasCapSysPtrace = euid === 0): PtraceEnvironment =>
  ({ euid, ptraceScope, hasCapSysPtrace, userName: (uid) => ({ 0: 'root', 1000: 'alice', 1001: 'bob' } as Record<number, string>)[uid] ?? String(uid) });

describe('checkPtracePermission', () => {
  const allowed: Array<[string, TargetFacts, PtraceEnvironment]> = [
    ['root with CAP_SYS_PTRACE, any target', target(1000), env(0, 1)],
    ['same user, no Yama', target(1000), env(1000, undefined)],
    ['same user, ptrace_scope 0', target(1000), env(1000, 0)],
    ['same user with CAP_SYS_PTRACE under scope 1', target(1000), env(1000, 1, true)],
  ];
  for (const [name, facts, e] of allowed) it(`allows: ${name}`, () => checkPtracePermission(facts, e));

  const denied: Array<[string, TargetFacts, PtraceEnvironment, RegExp, RegExp]> = [
    ['another user', target(1001), env(1000, 0), /belongs to bob; PyFlight runs as alice/, /as bob, or as root/],
    ['exe link unreadable (root-owned target)', target(0, true), env(1000, 0), /belongs to root/, /as root/],
    ['Ubuntu default scope 1', target(1000), env(1000, 1), /ptrace_scope is 1/, /sysctl kernel\.yama\.ptrace_scope=0/],
    ['scope 2 (admin only)', target(1000), env(1000, 2), /ptrace_scope is 2: only root/, /sysctl/],
    ['scope 3 (disabled)', target(1000), env(1000, 3), /ptrace_scope is 3/, /as root/],
    ['root without the capability (container)', target(0), env(0, 0, false), /CAP_SYS_PTRACE/, /--cap-add=SYS_PTRACE/],
  ];
  for (const [name, facts, e, message, hint] of denied) {
    it(`denies: ${name}`, () => {
      assert.throws(() => checkPtracePermission(facts, e), (error: unknown) => {
        assert.ok(error instanceof PyFlightError);
        assert.equal(error.code, ErrorCode.PermissionDenied);
        assert.match(error.message, message);
        assert.match(error.hint ?? '', hint);
        return true;
      });
    });
  }
});
