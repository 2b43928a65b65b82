import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { localHost } from '../../src/host/localHost';
import { silentLogger } from '../../src/common/logger';
import { preflight } from '../../src/preflight/preflight';
import { lineHeatOf } from '../../src/profile/lineHeat';
import { hotOwnAndLibrary, hottestPath, type CallTreeNode, type CpuProfile } from '../../src/profile/model';
import { Session } from '../../src/session/session';
import { agentThreadIds, recordCpuProfile, type ProfileProgress, type ProfileTarget } from '../../src/profile/record';
import { CLI, FIXTURES, ROOT, startTarget, stopAllTargets, VENV_PYTHON, type Target } from '../support/fixtures';

/** py-spy processes that are children of this test process (the only ones we may have started). */
function ourPySpies(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const state = /^State:\s+(\S)/m.exec(status)?.[1];
      return ppid === process.pid && state !== 'Z' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('py-spy');
    } catch {
      return false;
    }
  });
}

function kinds(tree: CallTreeNode): Set<string> {
  const seen = new Set<string>();
  const walk = (n: CallTreeNode) => { seen.add(n.kind); n.children.forEach(walk); };
  tree.children.forEach(walk);
  return seen;
}

describe('CPU profile with py-spy (real targets, no agent)', function () {
  this.timeout(90_000);
  let service: Target;
  let target: ProfileTarget;
  let tempRoot: string;

  before(async () => {
    service = await startTarget(['cpu_service.py']);
    target = { pid: service.pid, host: localHost, preflightResult: await preflight(service.pid) };
  });
  beforeEach(() => { tempRoot = mkdtempSync(path.join(os.tmpdir(), 'pyflight-profile-test-')); });
  afterEach(() => {
    // Every run leaves its private temp folder empty and no py-spy behind.
    assert.deepEqual(readdirSync(tempRoot), []);
    assert.deepEqual(ourPySpies(), []);
    rmSync(tempRoot, { recursive: true, force: true });
  });
  after(stopAllTargets);

  it('finds the hot pure-Python loop as the top own-code function, with progress after every chunk', async () => {
    const progress: ProfileProgress[] = [];
    const result = await recordCpuProfile(target, { durationSeconds: 3, workspaceRoots: [FIXTURES], tempRoot, log: silentLogger },
      undefined, (p) => progress.push(p));
    assert.equal(result.end.reason, 'duration');
    assert.equal(result.chunks, 3);
    assert.deepEqual(progress.map((p) => p.chunks), [1, 2, 3]);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].profile.samples >= progress[i - 1].profile.samples);
    assert.equal(result.pySpy, path.join(path.dirname(VENV_PYTHON), 'py-spy')); // next to the target's interpreter
    const top = hotOwnAndLibrary(result.profile)[0];
    assert.equal(top.function, 'score_order', JSON.stringify(result.profile.hot.slice(0, 5)));
    assert.equal(top.file, path.join(FIXTURES, 'cpu_service.py'));
    assert.equal(top.module, 'cpu_service');
    assert.ok(!kinds(result.profile.tree).has('native'));
    assert.equal(result.profile.tree.total, result.profile.samples);
  });

  it('--native adds native frames (libc, libpython)', async () => {
    const result = await recordCpuProfile(target, { durationSeconds: 1, native: true, workspaceRoots: [FIXTURES], tempRoot });
    assert.ok(kinds(result.profile.tree).has('native'));
    assert.ok(result.profile.hot.some((f) => f.kind === 'native' && /\.so/.test(f.module ?? '')));
    assert.equal(hotOwnAndLibrary(result.profile)[0].function, 'score_order');
  });

  it('--idle includes the waiting thread, classified idle and never hot', async () => {
    const result = await recordCpuProfile(target, { durationSeconds: 1, idle: true, workspaceRoots: [FIXTURES], tempRoot });
    assert.ok(result.profile.hot.some((f) => f.kind === 'idle' && f.function === 'Condition.wait'));
    assert.ok(result.profile.idleSamples >= 50, `housekeeping waits in every sample: ${result.profile.idleSamples}`);
    assert.ok(!hotOwnAndLibrary(result.profile).some((f) => f.function === 'housekeeping'), 'a thread that only waits has no CPU');
    assert.equal(hottestPath(result.profile).at(-1)?.name, 'score_order');
  });

  it('a sleep is idle in the hot list and the per-line CPU, whatever py-spy counted (handle_request: time.sleep(0.01))', async () => {
    const result = await recordCpuProfile(target, { durationSeconds: 2, workspaceRoots: [FIXTURES], tempRoot });
    const file = path.join(FIXTURES, 'cpu_service.py');
    const sleepLine = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('time.sleep(0.01)')) + 1;
    const lines = lineHeatOf(result.profile, [FIXTURES]).get(file)!;
    assert.equal(lines.get(sleepLine), undefined, `line ${sleepLine} (the sleep) has no CPU`);
    assert.ok(!result.profile.hot.some((h) => h.kind !== 'idle' && h.file === file && h.line === sleepLine && h.self > 0));
  });

  it('stopping mid-chunk keeps what was sampled and leaves no py-spy process and no temp file', async () => {
    const stop = new AbortController();
    let afterFirst: number | undefined;
    let secondChunkSeen = false;
    const watcher = setInterval(() => {
      // Once the second chunk's py-spy runs, stop in the middle of it (a few polls later).
      if (afterFirst === undefined || !ourPySpies().length) return;
      if (secondChunkSeen) stop.abort();
      secondChunkSeen = true;
    }, 100);
    try {
      const result = await recordCpuProfile(target, { tempRoot }, stop.signal, (p) => { afterFirst ??= p.profile.samples; });
      assert.equal(result.end.reason, 'stopped');
      assert.ok(secondChunkSeen);
      assert.equal(result.chunks, 2);
      assert.ok(result.profile.samples >= afterFirst!);
    } finally {
      clearInterval(watcher);
    }
  });

  it('a signal aborted before the start records nothing and starts nothing', async () => {
    const stop = new AbortController();
    stop.abort();
    const result = await recordCpuProfile(target, { durationSeconds: 5, tempRoot }, stop.signal);
    assert.equal(result.end.reason, 'stopped');
    assert.equal(result.chunks, 0);
    assert.equal(result.profile.samples, 0);
  });

  it('a target that exits mid-profile ends it with a clear message and the samples so far', async () => {
    const shortLived = await startTarget(['cpu_service.py', '2.5']);
    const result = await recordCpuProfile({ pid: shortLived.pid, host: localHost, preflightResult: await preflight(shortLived.pid) },
      { durationSeconds: 30, tempRoot });
    assert.equal(result.end.reason, 'targetExited');
    assert.match((result.end as { message: string }).message, new RegExp(`Process ${shortLived.pid} exited after .* the profile has the samples recorded until then`));
    assert.ok(result.profile.samples > 0);
    assert.ok(result.chunks < 30);
  });

  it('profiles an attached Session without loading the agent (read-only attach stays read-only)', async () => {
    let asked = false;
    const session = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 0, confirmAgentLoad: async () => { asked = true; return false; } });
    await session.attach();
    try {
      const result = await recordCpuProfile(session, { durationSeconds: 1, workspaceRoots: [FIXTURES], tempRoot });
      assert.ok(result.profile.samples > 0);
      assert.equal(result.pySpy, path.join(path.dirname(session.preflightResult!.interpreter.python), 'py-spy'));
      assert.equal(asked, false);
      assert.equal(session.agentLoaded, false);
      assert.deepEqual(readFileSync(`/proc/${service.pid}/maps`, 'utf8').split('\n').filter((l) => l.includes('flight_profiler_agent')), []);
    } finally {
      await session.detach();
    }
  });

  it('an agent loaded into the process changes nothing the profile ranks first; its threads are left out and counted', async function () {
    this.timeout(180_000);
    const own = await startTarget(['cpu_service.py']);
    const session = new Session(own.pid, { log: silentLogger, livenessIntervalMs: 0, confirmAgentLoad: async () => true });
    const culprit = (p: CpuProfile) => {
      const top = hotOwnAndLibrary(p)[0];
      return { name: top.function, share: top.self / Math.max(1, p.samples - p.idleSamples) };
    };
    await session.attach();
    try {
      const without = await recordCpuProfile(session, { durationSeconds: 3, workspaceRoots: [FIXTURES], tempRoot });
      await session.loadAgent();
      assert.ok(session.agentLoaded);
      const withAgent = await recordCpuProfile(session, { durationSeconds: 3, workspaceRoots: [FIXTURES], tempRoot });
      // --idle samples every thread every time: the agent's threads are surely sampled, and surely left out.
      const everyThread = await recordCpuProfile(session, { durationSeconds: 1, idle: true, workspaceRoots: [FIXTURES], tempRoot });
      const a = culprit(without.profile);
      const b = culprit(withAgent.profile);
      assert.equal(a.name, 'score_order');
      assert.equal(b.name, 'score_order', JSON.stringify(withAgent.profile.hot.slice(0, 5)));
      assert.ok(Math.abs(a.share - b.share) < 0.2, `share of CPU samples without the agent ${a.share.toFixed(2)}, with it ${b.share.toFixed(2)}`);
      for (const r of [without, withAgent, everyThread]) assert.equal(hottestPath(r.profile).at(-1)?.name, 'score_order');
      assert.equal(without.profile.pyflightThreads.samples, 0);
      const left = everyThread.profile.pyflightThreads;
      const names = [...left.threads.values()].map((t) => t.name ?? '');
      assert.ok(names.includes('flight-profiler-agent') && left.threads.size >= 2, names.join(', '));
      assert.ok(left.samples >= 50, `left out ${left.samples}`);
      // The agent names its own threads too (threading._active, read through it): the same threads py-spy named.
      const told = await agentThreadIds(session);
      assert.ok(told.length >= 2, `the agent reported ${told.join(', ')}`);
      for (const tid of told) assert.ok(left.threads.has(tid) || !existsSync(`/proc/${own.pid}/task/${tid}`), `thread ${tid}`);
      for (const r of [withAgent, everyThread]) {
        for (const stack of r.profile.stacks) assert.ok(!stack.frames.some((f) => /flight_profiler|_pyflight|^thread \(/.test(f)), stack.frames.join(';'));
      }
    } finally {
      await session.detach();
      await own.stop();
    }
  });

  it('a missing py-spy says where it looked and how to install it', async () => {
    await assert.rejects(recordCpuProfile(target, { durationSeconds: 1, pySpy: path.join(tempRoot, 'no-py-spy'), tempRoot }),
      (error: PyFlightError) => error.code === ErrorCode.ProfilerNotInstalled && /py-spy was not found/.test(error.message)
        && /pip install py-spy/.test(error.hint ?? ''));
  });

  it('pyflight perf --json: samples, hot (own code and libraries), tree, and both exports', async () => {
    const speedscope = path.join(tempRoot, 'out', 'cpu.speedscope.json');
    const collapsed = path.join(tempRoot, 'out', 'cpu.txt');
    const dir = path.dirname(speedscope);
    spawnSync('mkdir', ['-p', dir]);
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'perf', String(service.pid), '-d', '2', '--json', '--speedscope', speedscope, '--collapsed', collapsed],
        { cwd: ROOT, env: { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python') } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => { stdout += d; });
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.ok(json.samples > 0);
    assert.equal(json.tree.total, json.samples);
    assert.equal(json.hot[0].function, 'score_order');
    for (const f of json.hot) {
      assert.ok(['own', 'library'].includes(f.kind));
      for (const key of ['function', 'module', 'file', 'line', 'self', 'total']) assert.ok(key in f, `${key} in ${JSON.stringify(f)}`);
    }
    const file = JSON.parse(readFileSync(speedscope, 'utf8'));
    assert.equal(file.profiles[0].type, 'sampled');
    assert.ok(readFileSync(collapsed, 'utf8').includes('score_order ('));
    rmSync(dir, { recursive: true, force: true });
  });

  it('pyflight perf as another user: PERMISSION_DENIED in preflight\'s words', function () {
    if (process.geteuid?.() !== 0 || !existsSync('/usr/bin/setpriv')) this.skip();
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'perf', String(service.pid), '-d', '1', '--json'],
      { cwd: '/', encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    const { error } = JSON.parse(r.stdout);
    assert.equal(error.code, 'PERMISSION_DENIED');
    assert.match(error.message, /belongs to root; PyFlight runs as nobody/);
  });
});
