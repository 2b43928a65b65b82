// The interpreter matrix (`npm test -- matrix`, issue 17): on every CPython PyFlight is tested on
// (pyenv's 3.10–3.13 and the system's stripped python3), a real service in a venv with flight-profiler
// installed the way PyFlight installs it, and the CLI's commands on it: check (with the capability
// table's row), stack (+ native, + async), watch, eval (and a cancelled one), trace, getglobal, perf, gilstat, mem diff,
// gc, diagnose. Then the service is alive, still working, exits 0 on SIGTERM, and wrote nothing but the
// service's READY line (flight-profiler's loader lines are cut out of the staged library). Each interpreter also runs once in its own PID namespace (stack +
// watch). Outside the tested set: a 3.9/3.8 (read-only works, the agent is refused, nothing loaded)
// and a 3.7/3.6 (refused whole). An interpreter that is absent is a skipped test that names it and
// why, never left out silently.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliSync as cli, jsonOf as json } from '../support/cli';
import { CLI, isRunning, ROOT, startTarget, stopAllTargets, type Target } from '../support/fixtures';
import { matrixInterpreters, profilerVenv, tooOldInterpreter, untestedInterpreter, type MatrixInterpreter } from '../support/interpreters';
import { agentCopies, namespacesUnavailable, PID_NS_FLAGS, startNamespaced, stopNamespaced } from '../support/namespaces';

type Thread = { tid: number; name: string | null; frames: { function: string }[]; nativeFrames?: { function: string }[] };
type Stack = { threads: Thread[] };
type Line = { type: string; data: Record<string, unknown> };

function jsonLines(stdout: string): Line[] {
  return stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
}

/** A run that exited 0; its JSON lines. */
function stream(run: ReturnType<typeof cli>): Line[] {
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  return jsonLines(run.stdout);
}

/** shop.orders' itertools counter, which the service's event loop advances every 0.2 s. */
function quantities(pid: number): number {
  const value = json<{ value: string }>(cli('getglobal', String(pid), 'shop.orders', '_quantities', '--json')).value;
  const m = /count\((\d+)\)/.exec(value);
  assert.ok(m, value);
  return Number(m[1]);
}

/** Waits (bounded by tries, not a clock assertion) until `check()` holds. */
async function until(what: string, check: () => boolean, tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: not reached`);
}

/**
 * An Evaluate that runs until Ctrl+C (the CLI's SIGINT cancels it in the target): it ends in
 * KeyboardInterrupt, and nothing may stay pending in the target (CPython 3.11: a trace after a
 * cancelled Evaluate looped at the traced function's entry, 0 calls, and the service hung). The
 * evaluation makes a file when it starts, so the interrupt is sent while it runs.
 */
async function cancelledEvaluate(pid: string): Promise<void> {
  const flag = path.join(os.tmpdir(), `pyflight-matrix-spin-${pid}-${Date.now()}`);
  const spin = spawn(process.execPath, [CLI, 'eval', pid, `open(${JSON.stringify(flag)}, 'w').close()\nwhile True: pass`],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let output = '';
  spin.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  spin.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const ended = new Promise<number | null>((resolve) => spin.once('close', resolve));
  try {
    await until('the evaluation runs in the target', () => existsSync(flag), 600);
    spin.kill('SIGINT');
    assert.notEqual(await ended, 0, output);
    assert.match(output, /KeyboardInterrupt/, output);
  } finally {
    spin.kill('SIGKILL');
    rmSync(flag, { force: true });
  }
}

const interpreters: MatrixInterpreter[] = matrixInterpreters();
const untested: MatrixInterpreter = untestedInterpreter();
const tooOld: MatrixInterpreter = tooOldInterpreter();

/** Each interpreter's venv, made once (in parallel: pip waits on the network and the disk, not the CPU). */
const venvs = new Map<string, Promise<string>>();
const venvFor = (interp: MatrixInterpreter) => {
  if (!venvs.has(interp.key)) venvs.set(interp.key, profilerVenv(interp));
  return venvs.get(interp.key)!;
};

describe('interpreter matrix: every command on every CPython tested here', function () {
  this.timeout(600_000);
  before(async () => {
    await Promise.all([...interpreters, untested].filter((i) => i.base).map((i) => venvFor(i).catch(() => undefined)));
  });
  after(async () => {
    stopNamespaced();
    await stopAllTargets();
  });

  describe(`outside the tested set: ${untested.label}`, function () {
    let target: Target | undefined;
    before(async function () {
      if (!untested.base) {
        console.log(`    (skipped: ${untested.label}: ${untested.absent})`);
        this.skip();
      }
    });
    after(async () => { await target?.stop(); });

    it('check says it is not tested and what is refused; stack and perf work; the agent is refused before anything is loaded', async () => {
      target = await startTarget(['busy_service.py'], await venvFor(untested), 60_000);
      const pid = String(target.pid);
      const checked = cli('check', pid);
      assert.equal(checked.status, 0, checked.stdout + checked.stderr);
      assert.match(checked.stdout, /CPython 3\.8–3\.9: NOT tested here/);
      assert.match(checked.stdout, /is not tested with PyFlight .*Refused here: watch, trace/);
      const stack = json<Stack>(cli('stack', pid, '--json'));
      assert.ok(stack.threads.some((t) => t.tid === target!.pid && t.name === 'MainThread'));
      assert.ok(stack.threads.some((t) => t.name === 'request-worker'), JSON.stringify(stack.threads.map((t) => [t.tid, t.name])));
      assert.ok(json<{ samples: number }>(cli('perf', pid, '-d', '1', '--idle', '--json')).samples > 0); // --idle: it mostly sleeps
      for (const args of [['watch', pid, 'shop.orders', 'total_price', '-n', '1'], ['gilstat', pid, '--duration', '2'], ['mem', 'summary', pid]]) {
        const refused = cli(...args, '--json');
        assert.notEqual(refused.status, 0, refused.stdout);
        const error = JSON.parse(refused.stdout.trim().split('\n').pop()!).error;
        assert.equal(error.code, 'INTERPRETER_UNSUPPORTED', refused.stdout + refused.stderr);
        assert.match(error.message, /on CPython 3\.\d+\.\d+: .*not tested/);
        assert.match(error.hint, /PYFLIGHT_ALLOW_UNTESTED_PYTHON=1/);
        assert.doesNotMatch(refused.stderr, /loading the PyFlightProfiler agent/, 'refused before saying it loads');
      }
      assert.deepEqual(agentCopies(target.pid), [], 'nothing loaded');
      assert.ok(isRunning(target.pid));
    });
  });

  describe(`too old for flight-profiler: ${tooOld.label}`, function () {
    let target: Target | undefined;
    before(function () {
      if (!tooOld.base) {
        console.log(`    (skipped: ${tooOld.label}: ${tooOld.absent})`);
        this.skip();
      }
    });
    after(async () => { await target?.stop(); });

    it('check and stack refuse it by the table (not "install flight-profiler", which has no build for it), naming py-spy instead', async () => {
      target = await startTarget(['busy_service.py'], tooOld.base, 60_000);
      for (const verb of ['check', 'stack']) {
        const run = cli(verb, String(target.pid), '--json');
        assert.equal(run.status, 1, run.stdout + run.stderr);
        const error = JSON.parse(run.stdout.trim().split('\n').pop()!).error;
        assert.equal(error.code, 'INTERPRETER_UNSUPPORTED');
        assert.match(error.message, /on CPython 3\.[67]\.\d+: .*needs Python 3\.8 or later/);
        assert.match(error.hint, /py-spy dump/);
      }
      assert.ok(isRunning(target.pid));
    });
  });

  for (const interp of interpreters) {
    describe(interp.label, function () {
      let python = '';
      let target: Target | undefined;
      before(async function () {
        if (!interp.base) {
          console.log(`    (skipped: ${interp.label}: ${interp.absent})`);
          this.skip();
        }
        python = await venvFor(interp);
      });
      after(async () => {
        await target?.stop();
        stopNamespaced();
      });

      it('check, stack (+ native, + async), watch, eval (and one cancelled by Ctrl+C), trace, getglobal, perf, gilstat, gc, mem diff, diagnose; the service lives on and exits on SIGTERM (code 0)', async () => {
        target = await startTarget(['busy_service.py'], python, 60_000);
        const pid = String(target.pid);

        const checked = json<{ ok: boolean; pythonVersion: string; capabilities: { family: string; tested: boolean; features: Record<string, { status: string }> } }>(cli('check', pid, '--json'));
        assert.equal(checked.pythonVersion, interp.version);
        assert.equal(checked.capabilities.tested, true, JSON.stringify(checked.capabilities));
        for (const feature of ['stack', 'watch', 'gilstat', 'mem']) {
          assert.notEqual(checked.capabilities.features[feature]?.status, 'refused', `${feature}: ${JSON.stringify(checked.capabilities.features[feature])}`);
        }

        const stack = json<Stack>(cli('stack', pid, '--json'));
        assert.ok(stack.threads.some((t) => t.tid === target!.pid && t.name === 'MainThread'), JSON.stringify(stack.threads.map((t) => [t.tid, t.name])));
        const worker = stack.threads.find((t) => t.name === 'request-worker');
        assert.ok(worker?.frames.some((f) => /request_worker/.test(f.function)), JSON.stringify(worker));

        const native = json<Stack>(cli('stack', pid, '--native', '--json'));
        const nativeMain = native.threads.find((t) => t.tid === target!.pid);
        assert.equal(nativeMain?.name, 'MainThread');
        assert.ok(native.threads.some((t) => (t.nativeFrames?.length ?? 0) > 0), JSON.stringify(native.threads).slice(0, 600));

        const watched = stream(cli('watch', pid, 'shop.orders', 'total_price', '-n', '2', '--json', '--timeout', '120'));
        assert.equal(watched.filter((l) => l.type === 'record').length, 2, JSON.stringify(watched));
        assert.equal(agentCopies(target.pid).length, 1);

        // The agent reads the event loop's tasks (asyncio's internals differ from 3.10 to 3.13).
        const tasks = json<{ asyncTasks?: { name: string }[] }>(cli('stack', pid, '--async', '--json')).asyncTasks ?? [];
        assert.ok(tasks.some((t) => t.name === 'inventory-poller'), JSON.stringify(tasks).slice(0, 600));
        assert.equal(json<{ value: string }>(cli('eval', pid, '6 * 7', '--json')).value, '42');
        await cancelledEvaluate(pid);

        const traced = stream(cli('trace', pid, '__main__', 'handle_request', '-n', '1', '--json', '--timeout', '120'));
        assert.equal(traced.filter((l) => l.type === 'record').length, 1, JSON.stringify(traced).slice(0, 600));

        const first = quantities(target.pid);
        assert.ok(first > 0);

        // --idle: the service mostly sleeps, and 2 s of its CPU alone can be no sample at all on a busy machine.
        const perf = json<{ samples: number }>(cli('perf', pid, '-d', '2', '--idle', '--json'));
        assert.ok(perf.samples > 0);

        // A report every second for 3 s: at least the end, measured by the interceptor or (a stripped
        // interpreter) by sampling, as the capability row says.
        const gil = stream(cli('gilstat', pid, '--duration', '3', '--interval', '1', '--json'));
        const end = gil.find((l) => l.type === 'end');
        assert.ok(end, JSON.stringify(gil).slice(0, 600));
        const measure = checked.capabilities.features.gilstat.status === 'fallback' ? 'sampled' : 'intercept';
        for (const record of gil.filter((l) => l.type === 'record')) assert.equal(record.data.measure, measure);

        // The collector, read from outside (gc_state.py learns its layout in the helper's own interpreter).
        const collector = json<{ supported: boolean; reason?: string; polls: number; longLived: number | null }>(cli('gc', pid, '-d', '1', '--json'));
        assert.ok(collector.supported && collector.polls > 0 && collector.longLived !== null, JSON.stringify(collector)); // 0 before the first full collection

        const diff = cli('mem', 'diff', pid, '--interval', '1');
        assert.equal(diff.status, 0, diff.stdout + diff.stderr);
        assert.match(diff.stdout, /Δ objects\s+Δ size\s+(Δ owned\s+)?type/, diff.stdout);
        assert.match(diff.stdout, /Census: [\d,]+ tracked objects/, diff.stdout);
        assert.doesNotMatch(diff.stdout, /_pyflight/, 'PyFlight\'s own objects are not in the census');

        const diagnosed = cli('diagnose', pid, 'requests are slow', '--kind', 'slow', '--budget', '6', '--json');
        assert.equal(diagnosed.status, 0, diagnosed.stdout + diagnosed.stderr);
        assert.ok(JSON.parse(diagnosed.stdout.trim().split('\n').pop()!).findings.length > 0, diagnosed.stdout.slice(-600));

        // Alive and still doing its work: its event loop moves the counter on.
        assert.ok(isRunning(target.pid), `process ${pid} is gone: ${target.output()}`);
        await until('the service advances shop.orders._quantities', () => quantities(target!.pid) > first, 60);
        assert.equal(agentCopies(target.pid).length, 1, 'one agent after every command');

        // Then it shuts down as a service does (SIGTERM: exit 0, buffered output flushed, atexit run).
        const exited = new Promise<number | null>((resolve) => target!.child.once('close', (code) => resolve(code)));
        process.kill(target.pid, 'SIGTERM');
        assert.equal(await exited, 0, `exit code after SIGTERM: ${target.output()}`);
      });

      it('the service wrote nothing but its own READY line (stdout and stderr, read after its exit): not even flight-profiler\'s loader lines', function () {
        if (!target || target.child.exitCode === null) this.skip(); // the commands' test failed before the exit
        const { stdout, stderr } = target!.streams();
        const extra = (text: string) => text.split('\n').filter((l) => l && !/^READY \d+$/.test(l));
        assert.deepEqual({ stdout: extra(stdout), stderr: extra(stderr) }, { stdout: [], stderr: [] });
      });

      it('diagnose exception names the swallowed exception and its broad except (3.11: the trace hook; 3.12+: sys.monitoring; 3.10: watch -e), and leaves no hook', async () => {
        const swallowing = await startTarget(['swallowed_errors.py'], python, 60_000);
        try {
          const run = cli('diagnose', String(swallowing.pid), 'orders are silently dropped', '--kind', 'exception', '--budget', '12', '--json');
          assert.equal(run.status, 0, run.stdout + run.stderr);
          const report = JSON.parse(run.stdout.trim().split('\n').pop()!);
          const titles = JSON.stringify(report.findings.map((f: { title: string }) => f.title));
          const evidence = report.findings[0].evidence.join('\n');
          const minor = Number(interp.version!.split('.')[1]);
          if (minor >= 11) assert.match(report.findings[0].title, /^parse_quantity raises ValueError .*swallowed by `except Exception:` in handle_request/, titles);
          // 3.10 has no window (exception_hook._trace_slots says why): watch -e on the profile's candidates,
          // which sees an exception only when it leaves a watched function; it may miss in its 5 s.
          else assert.ok(report.findings.length > 0, titles);
          if (minor >= 12) assert.match(evidence, /The sys\.monitoring hook \(EXCEPTION_HANDLED, one call per caught exception\) was removed/, evidence);
          if (minor === 11) assert.match(evidence, /The trace hook was removed/, evidence);
          assert.ok(isRunning(swallowing.pid));
        } finally {
          await swallowing.stop();
        }
      });

      it('a pool whose every thread computes (all but one wait for the GIL) takes the agent and computes on', async () => {
        // The loader used to borrow a thread that waited for the GIL: the agent's constructor took the
        // GIL again inside that wait and the whole process hung for good (3.10, 3.12, 3.13: 9 of 9).
        const pool = await startTarget(['regex_pool.py'], python, 60_000);
        try {
          const pid = String(pool.pid);
          const scrubbed = () => Number(json<{ value: string }>(cli('getglobal', pid, '__main__', 'SCRUBBED', '--json')).value.replace(/\D/g, ''));
          assert.equal(json<{ value: string }>(cli('eval', pid, '6 * 7', '--json')).value, '42'); // loads the agent
          assert.equal(agentCopies(pool.pid).length, 1);
          const first = scrubbed();
          await until('the pool scrubs on after the load', () => scrubbed() > first, 60);
        } finally {
          await pool.stop();
        }
      });

      it('in its own PID namespace (unshare --fork --pid --mount-proc): stack with names, watch, gc', async function () {
        if (namespacesUnavailable) {
          console.log(`    (skipped: ${namespacesUnavailable})`);
          this.skip();
        }
        const ns = await startNamespaced(PID_NS_FLAGS, false, python);
        const pid = String(ns.pid);
        const stack = json<Stack>(cli('stack', pid, '--json'));
        assert.ok(stack.threads.some((t) => t.tid === ns.pid && t.name === 'MainThread'), JSON.stringify(stack.threads.map((t) => [t.tid, t.name])));
        assert.ok(stack.threads.some((t) => t.name === 'request-worker'));
        const watched = stream(cli('watch', pid, 'shop.orders', 'total_price', '-n', '2', '--json', '--timeout', '120'));
        assert.equal(watched.filter((l) => l.type === 'record').length, 2, JSON.stringify(watched));
        assert.equal(agentCopies(ns.pid).length, 1);
        const collector = json<{ supported: boolean; reason?: string; polls: number }>(cli('gc', pid, '-d', '1', '--json'));
        assert.ok(collector.supported && collector.polls > 0, JSON.stringify(collector));
        assert.ok(isRunning(ns.pid));
        stopNamespaced();
      });
    });
  }
});
