import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as path from 'node:path';
import { cpuCgroupMounts, type CgroupMount } from '../../src/host/cgroup';
import { silentLogger } from '../../src/common/logger';
import { diagnose } from '../../src/diagnose/engine';
import { Session } from '../../src/session/session';
import { startTarget, stopAllTargets, VENV_PYTHON } from '../support/fixtures';
import { namespacesUnavailable, PID_NS_FLAGS, startNamespaced, stopNamespaced } from '../support/namespaces';

// Issue 20, item 1: a CPU-bound service that shares its one CPU with busy loops is starved, not
// waiting. The test pins the target and three busy loops of its own to the same CPU (taskset), so
// the target is ready to run most of the time and runs a fraction of it, whatever else the machine
// runs; it starts and kills every one of them.
describe('diagnose: a starved process is told from a waiting one (run-queue delay)', function () {
  this.timeout(180_000);
  const cpu = String(cpus().length - 1);
  const hogs: ChildProcess[] = [];
  const sessions: Session[] = [];

  async function starvedTarget(): Promise<Session> {
    const target = await startTarget(['-c', cpu, VENV_PYTHON, 'cpu_service.py'], 'taskset');
    for (let i = 0; i < 3; i++) hogs.push(spawn('taskset', ['-c', cpu, process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' }));
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    return session;
  }

  after(async () => {
    for (const h of hogs) h.kill('SIGKILL');
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  it('"requests are slow": starved of CPU, the host is overloaded — not waiting on a remote service', async () => {
    const session = await starvedTarget();
    const steps: string[] = [];
    const report = await diagnose(session, 'requests are slow', { budgetSeconds: 8 }, (s) => steps.push(s));
    assert.equal(report.kind, 'slow');
    const [first] = report.findings;
    // The culprit leads: the title names the function its CPU goes to, and why it waits for a CPU.
    assert.match(first.title, /^score_order uses [\d.]+% of the CPU samples(, mostly in .+ that it calls)? — and (the process waited for a CPU \d+% of the time|its threads waited for a CPU \d+% of a core's time \(several at once\)): the host is overloaded$/,
      report.findings.map((f) => f.title).join('\n'));
    assert.equal(first.severity, 'high');
    assert.equal(first.about, 'starved');
    assert.equal(first.location?.function, 'score_order');
    assert.ok(first.evidence.some((e) => /ran \d+% of a core and its threads were ready to run but waiting for a CPU another \d+%/.test(e)), first.evidence.join('\n'));
    assert.ok(first.evidence.some((e) => /^The process was ready to run \d+% .*but the 1 CPU it may run on \(its CPU affinity; the machine has \d+\) was busy \(load average [\d.]+\): the host is overloaded\.$/.test(e)
      || /^The process's threads were ready to run/.test(e)), first.evidence.join('\n'));
    assert.ok(first.evidence.some((e) => /^Where its CPU goes: score_order uses [\d.]+% of CPU samples/.test(e)), first.evidence.join('\n'));
    // Named once: not again as the second finding.
    assert.ok(!report.findings.slice(1).some((f) => f.location?.function === 'score_order' && f.about === 'cpu'), report.findings.map((f) => f.title).join('\n'));
    // The script's functions are named as the agent finds them: __main__, not the file's name.
    assert.ok(first.next_steps.includes(`Measure each call: \`pyflight trace ${session.pid} __main__ score_order\`.`), first.next_steps.join('\n'));
    // The code's fix first, then the host's (judge 4: a report that led with "Give it CPU").
    assert.match(first.next_steps[0], /^Look at the loop or call at cpu_service\.py:\d+/, first.next_steps.join('\n'));
    assert.match(first.next_steps[1], /^Give it CPU: /);
    assert.match(report.summary, /^score_order uses [\d.]+% of the CPU samples(, mostly in .+ that it calls)? — and .*: the host is overloaded, at cpu_service\.py:\d+\.$/);
    assert.doesNotMatch(report.summary, /remote service|queue/i);
    assert.ok(steps.some((s) => /ready to run \d+% of the time but ran only \d+%: the host is overloaded/.test(s)), steps.join('\n'));
  });

  it('auto, without telling words: routed to slow because it wants the CPU it does not get', async () => {
    const session = sessions[0] ?? await starvedTarget();
    const report = await diagnose(session, 'something is off with the scorer', { budgetSeconds: 10 });
    assert.equal(report.kind, 'slow');
    assert.match(report.routedBy, /^quick evidence: the process is busy on the CPU, and starved of it: the process.* ready to run \d+% .*the host is overloaded/);
    assert.match(report.findings[0].title, /^score_order uses [\d.]+% of the CPU samples(, mostly in .+ that it calls)? — and .*: the host is overloaded$/);
  });
});

// Issue 20: a process whose own runnable threads outnumber the CPUs waits on the run queue behind
// itself. Four threads that hash with the GIL released want four CPUs on a machine of two: CPU-bound,
// not starved by an overloaded host, whatever else the machine runs.
describe('diagnose: a process whose own busy threads outnumber the CPUs is CPU-bound, not starved by the host', function () {
  this.timeout(180_000);
  const sessions: Session[] = [];
  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  it('4 busy threads on 2 CPUs: the culprit first, its threads contend for the CPUs', async function () {
    if (cpus().length > 3) this.skip(); // four threads do not outnumber the CPUs of a bigger machine
    const target = await startTarget(['threaded_hasher.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const steps: string[] = [];
    const report = await diagnose(session, 'requests are slow', { budgetSeconds: 8 }, (s) => steps.push(s));
    const titles = report.findings.map((f) => f.title).join('\n');
    assert.equal(report.kind, 'slow');
    const [first] = report.findings;
    assert.match(first.title, /^digest_chunks uses [\d.]+% of the CPU samples(, mostly in .+ that it calls)? — and its (\d+) busy threads contend for the machine's \d+ CPUs: .* behind its own threads \(CPU-bound(, not an overloaded host|; other processes took up to [\d.]+ of the CPUs too)\)$/, titles);
    assert.ok(Number(/its (\d+) busy threads/.exec(first.title)![1]) >= 3, first.title);
    assert.equal(first.about, 'cpu');
    assert.equal(first.location?.function, 'digest_chunks');
    assert.ok(first.evidence.some((e) => /^The process's own \d+ busy threads wanted [\d.]+ CPUs and it may use \d+ CPUs: it is CPU-bound/.test(e)), first.evidence.join('\n'));
    assert.match(report.summary, /^CPU-bound: digest_chunks uses [\d.]+% of the CPU samples(, mostly in .+ that it calls)? — and its \d+ busy threads contend .*, at threaded_hasher\.py:\d+\.$/);
    assert.doesNotMatch(`${report.summary}\n${titles}`, /the host is overloaded|Starved of CPU|remote service/);
    assert.ok(steps.some((s) => /busy threads contend .*\(CPU-bound[,;] /.test(s)), steps.join('\n'));
  });
});

describe('diagnose: the same, pinned to one CPU (4 busy threads, 1 CPU of affinity)', function () {
  this.timeout(180_000);
  const sessions: Session[] = [];
  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  it('taskset -c <one CPU>: its 4 busy threads contend for the 1 CPU it may run on', async () => {
    const target = await startTarget(['-c', String(cpus().length - 1), VENV_PYTHON, 'threaded_hasher.py'], 'taskset');
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const report = await diagnose(session, 'requests are slow', { budgetSeconds: 8 });
    const titles = report.findings.map((f) => f.title).join('\n');
    const [first] = report.findings;
    assert.match(first.title, /^digest_chunks uses [\d.]+% of the CPU samples(, mostly in .+ that it calls)? — and its \d+ busy threads contend for the 1 CPU it may run on \(its CPU affinity\): .* behind its own threads \(CPU-bound(, not an overloaded host|; other processes took up to [\d.]+ of the CPUs too)\)$/, titles);
    assert.equal(first.about, 'cpu');
    assert.doesNotMatch(`${report.summary}\n${titles}`, /the host is overloaded|Starved of CPU/);
  });
});

/** A CPU cgroup this test may make (root, a writable cgroup fs): v1's cpu hierarchy or v2 with the cpu controller. */
function cpuCgroupRoot(): CgroupMount | undefined {
  for (const mount of cpuCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'))) {
    if (mount.root !== '/') continue;
    if (mount.version === 2 && !/\bcpu\b/.test(readFileSync(path.join(mount.mountPoint, 'cgroup.controllers'), 'utf8'))) continue;
    return mount;
  }
  return undefined;
}

// Issue 20: a container's CPU quota holds a process back the way an overloaded host does (its
// threads wait for a CPU while throttled), and the words must say which. The test makes a cgroup
// with a quota of 0.1 CPU (cgroup v2's cpu.max, or v1's cfs quota where the cpu controller is on v1,
// as on this machine), starts a CPU-bound service in it, and removes it afterwards.
describe('diagnose: a process throttled by its cgroup\'s CPU limit is told from an overloaded host', function () {
  this.timeout(180_000);
  const sessions: Session[] = [];
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
    stopNamespaced();
    for (const dir of dirs.filter((d) => existsSync(d))) {
      for (let i = 0; i < 50; i++) {
        try { rmdirSync(dir); break; } catch { await new Promise((r) => setTimeout(r, 100)); } // its tasks leave as they exit
      }
    }
  });

  /** A new cgroup with a 0.1 CPU quota, removed in `after`; skips the test where none can be made. */
  function quotaCgroup(ctx: Mocha.Context, name: string): string {
    const mount = process.getuid?.() === 0 ? cpuCgroupRoot() : undefined;
    if (!mount) ctx.skip();
    const dir = path.join(mount!.mountPoint, `pyflight-test-${process.pid}-${name}`);
    try {
      mkdirSync(dir);
      dirs.push(dir);
      if (mount!.version === 2) writeFileSync(path.join(dir, 'cpu.max'), '10000 100000');
      else {
        writeFileSync(path.join(dir, 'cpu.cfs_period_us'), '100000');
        writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), '10000');
      }
    } catch (error) {
      console.log(`      (no writable CPU cgroup here: ${(error as Error).message})`);
      ctx.skip();
    }
    return dir;
  }

  async function diagnoseThrottled(pid: number, dir: string): Promise<void> {
    assert.ok(readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/${path.basename(dir)}\n`));
    // Wait for the state: throttled at least once (it computes more than 0.1 CPU whenever it runs).
    const throttled = () => Number(/^nr_throttled (\d+)$/m.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? 0);
    for (let i = 0; i < 300 && throttled() === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(throttled() > 0, 'never throttled');
    const session = new Session(pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const report = await diagnose(session, 'requests are slow', { budgetSeconds: 8 });
    const titles = report.findings.map((f) => f.title).join('\n');
    assert.equal(report.kind, 'slow');
    const [first] = report.findings;
    assert.match(first.title, /^score_order uses [\d.]+% of the CPU samples(, mostly in .+ that it calls)? — and the process is throttled by its container's CPU limit \(0\.1 CPU\): it ran \d+% of a core, throttled in \d+ of \d+ scheduling periods$/, titles);
    assert.equal(first.about, 'starved');
    assert.equal(first.location?.function, 'score_order');
    assert.ok(first.evidence.some((e) => new RegExp(`Its cgroup /${path.basename(dir)} may use 0\\.1 CPU \\((cpu\\.max|cpu\\.cfs_quota_us / cpu\\.cfs_period_us)\\) and was throttled in \\d+ of \\d+ scheduling periods`).test(e)),
      first.evidence.join('\n'));
    assert.match(report.summary, /^score_order uses [\d.]+% of the CPU samples(, mostly in .+ that it calls)? — and the process is throttled by its container's CPU limit \(0\.1 CPU\).*, at cpu_service\.py:\d+\.$/);
    assert.doesNotMatch(`${report.summary}\n${titles}`, /the host is overloaded|remote service/);
  }

  it('"requests are slow" in a cgroup with a 0.1 CPU quota: throttled by its container\'s CPU limit, with the culprit', async function () {
    const dir = quotaCgroup(this, 'plain');
    // In the cgroup from its first instruction: the shell joins it, then becomes the service.
    const target = await startTarget(['-c', `echo $$ > ${dir}/cgroup.procs && exec ${VENV_PYTHON} cpu_service.py`], 'sh');
    await diagnoseThrottled(target.pid, dir);
  });

  it('the same in its own pid, mount and cgroup namespaces (a container seen from the host)', async function () {
    if (namespacesUnavailable) this.skip();
    const dir = quotaCgroup(this, 'ns');
    const target = await startNamespaced([...PID_NS_FLAGS, '--cgroup'], true, VENV_PYTHON, 'cpu_service.py');
    writeFileSync(path.join(dir, 'cgroup.procs'), String(target.pid));
    await diagnoseThrottled(target.pid, dir);
  });
});
