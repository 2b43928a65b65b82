// PyFlight's own threads left out of CPU profiles, and samples that wait set apart as idle, on
// py-spy output recorded from a real target with PyFlight's agent loaded
// (test/fixtures/recorded/profile/README.md, "PyFlight's agent in the target").
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { perfJson } from '../../src/cli/perf';
import { toCollapsed } from '../../src/profile/export';
import { hotOwnAndLibrary, hottestPath, profileFromCollapsed, profileNote, type CpuProfile } from '../../src/profile/model';
import { isPyflightCode, parseThreadFrame, PyflightThreads } from '../../src/profile/threads';
import { leafWaits } from '../../src/profile/waits';
import { mergeWorkerStacks } from '../../src/profile/workers';

const REPO = path.resolve(__dirname, '..', '..', '..');
const DIR = path.join(REPO, 'test', 'fixtures', 'recorded', 'profile');
const raw = (name: string) => readFileSync(path.join(DIR, name), 'utf8');
/** Where these files were recorded. */
const ROOT = '/work/wt/profile/test/fixtures';
const SOURCE = readFileSync(path.join(REPO, 'test', 'fixtures', 'cpu_service.py'), 'utf8').split('\n');
const lineText = (file: string, line: number) => (file === `${ROOT}/cpu_service.py` ? SOURCE[line - 1] : undefined);
const AGENT = raw('cpu-service-agent.raw.txt');
const AGENT_IDLE = raw('cpu-service-agent-idle.raw.txt');
/** The pool threads of the agent in those files (the loop thread, 11904, starts in PyFlight's bootstrap). */
const POOL_TIDS = [11905, 11907, 11908, 11909];

/** Samples per thread frame, straight from the text. */
function perThread(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n').filter(Boolean)) {
    const head = line.slice(0, line.indexOf(';'));
    out.set(head, (out.get(head) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}
const total = (m: Map<string, number>, keep: (k: string) => boolean = () => true) => [...m].filter(([k]) => keep(k)).reduce((s, [, n]) => s + n, 0);

function assertNoPyflightFrames(profile: CpuProfile): void {
  for (const stack of profile.stacks) {
    for (const frame of stack.frames) {
      assert.ok(!/flight_profiler|_pyflight|agent_bootstrap|^thread \(/.test(frame), frame);
    }
  }
}

describe('CPU profiles: PyFlight\'s own threads are left out', () => {
  const threads = perThread(AGENT);
  const ours = total(threads, (k) => k.includes('flight-profiler-'));

  it('by the thread names py-spy reads from the target (--threads), and says how many', () => {
    assert.ok(ours > 0, 'the agent\'s idle threads were counted active by py-spy in this recording');
    const profile = profileFromCollapsed(AGENT, { workspaceRoots: [ROOT], lineText });
    assert.equal(profile.pyflightThreads.samples, ours);
    assert.equal(profile.samples, total(threads) - ours);
    assertNoPyflightFrames(profile);
    assert.ok(!profile.hot.some((h) => h.function === '_worker' || h.function === 'EpollSelector.select' && h.kind !== 'idle'));
    assert.equal(hotOwnAndLibrary(profile)[0].function, 'score_order');
    assert.equal(hottestPath(profile).at(-1)?.name, 'score_order');
    assert.match(profileNote(profile)!, new RegExp(`^${ours} samples of PyFlight's own threads left out \\(flight-profiler-agent, flight-profiler-recv-_0, flight-profiler-recv-_1, flight-profiler-worker-_0, 1 more\\)`));
    const json = perfJson({ profile, chunks: 2, elapsedMs: 2000, pid: 11428, rate: 100, native: false, idle: false, gil: false, nonblocking: false,
      pySpy: 'py-spy', end: { reason: 'duration' } }) as { pyflightThreads: { samples: number; threads: Array<{ tid: number; name?: string }> } };
    assert.equal(json.pyflightThreads.samples, ours);
    assert.deepEqual(json.pyflightThreads.threads.map((t) => t.tid).sort(), [11904, ...POOL_TIDS].sort());
  });

  it('exports carry neither thread frames nor PyFlight\'s samples, and read back the same', () => {
    const profile = profileFromCollapsed(AGENT, { workspaceRoots: [ROOT] });
    const text = toCollapsed(profile.stacks);
    assert.ok(!/^thread \(|flight_profiler|_pyflight/m.test(text));
    const again = profileFromCollapsed(text, { workspaceRoots: [ROOT] });
    assert.equal(again.samples, profile.samples);
    assert.equal(again.pyflightThreads.samples, 0);
  });

  it('by the thread ids the agent reported, when py-spy has no names', () => {
    const unnamed = AGENT.replace(/^thread \((\d+)\): [^;]*/gm, 'thread ($1)');
    assert.ok(!unnamed.includes('flight-profiler-'));
    const told = profileFromCollapsed(unnamed, { workspaceRoots: [ROOT], lineText, pyflightThreadIds: POOL_TIDS });
    assert.equal(told.pyflightThreads.samples, ours, 'the pools by id, the loop thread by its first frame (_pyflight_start…_run_agent)');
    assertNoPyflightFrames(told);
    // Without the ids only the loop thread is known; the pools' idle `_worker`s are still idle, never hot.
    const blind = profileFromCollapsed(unnamed, { workspaceRoots: [ROOT], lineText });
    assert.equal(blind.pyflightThreads.samples, threads.get('thread (11904): flight-profiler-agent'));
    assert.ok(!blind.hot.some((h) => h.function === '_worker' && h.kind !== 'idle'));
    assert.equal(hotOwnAndLibrary(blind)[0].function, 'score_order');
  });

  it('by their first frame when there are no thread frames at all (py-spy raw without --threads, a file)', () => {
    const bare = AGENT.replace(/^thread \([^;]*;/gm, '');
    const profile = profileFromCollapsed(bare, { workspaceRoots: [ROOT] });
    assert.equal(profile.pyflightThreads.samples, threads.get('thread (11904): flight-profiler-agent'));
    assert.match(profileNote(profile)!, new RegExp(`^${threads.get('thread (11904): flight-profiler-agent')} samples of PyFlight's own threads left out[.;]`));
  });

  it('--idle: every agent thread is sampled every time, and none of it is counted', () => {
    const idle = perThread(AGENT_IDLE);
    const profile = profileFromCollapsed(AGENT_IDLE, { workspaceRoots: [ROOT], lineText });
    assert.equal(profile.pyflightThreads.samples, 5 * 199);
    assert.equal(profile.samples, total(idle) - 5 * 199);
    assertNoPyflightFrames(profile);
    // MainThread's sleep and housekeeping's Event.wait are idle; the CPU is score_order's.
    assert.equal(hotOwnAndLibrary(profile)[0].function, 'score_order');
    assert.equal(hottestPath(profile).at(-1)?.name, 'score_order');
    assert.ok(profile.idleSamples >= 199, 'housekeeping waits in every sample');
  });

  it('a profile of all workers adds up what each worker left out', () => {
    const one = profileFromCollapsed(AGENT, { workspaceRoots: [ROOT] });
    const merged = mergeWorkerStacks([one, one], { workspaceRoots: [ROOT] });
    assert.equal(merged.pyflightThreads.samples, 2 * ours);
    assert.equal(merged.samples, 2 * one.samples);
  });

  it('tells PyFlight\'s code and thread frames apart from the application\'s', () => {
    assert.deepEqual(parseThreadFrame('thread (11904): flight-profiler-agent'), { tid: 11904, name: 'flight-profiler-agent' });
    assert.deepEqual(parseThreadFrame('thread (0x7F00AB)'), { tid: 0x7f00ab });
    assert.equal(parseThreadFrame('threaded (x.py:1)'), undefined);
    const code = (name: string, file: string) => isPyflightCode({ name, file, kind: 'library' });
    assert.ok(code('_pyflight_start.<locals>._run_agent', '/tmp/pyflight-agent-1-x/agent_bootstrap.py'));
    assert.ok(code('FlightServer.start_server', '/venv/lib/python3.11/site-packages/flight_profiler/communication/flight_server.py'));
    assert.ok(!code('wrapper', '/venv/lib/python3.11/site-packages/flight_profiler/common/aop_decorator.py'), 'a watch wrapper runs on the app\'s thread');
    assert.ok(!code('handle', '/srv/app/views.py'));
    // A thread found once stays found (a pool thread between tasks has no PyFlight frame).
    const left = new PyflightThreads();
    assert.ok(left.claims({ tid: 7 }, true, 2));
    assert.ok(left.claims({ tid: 7 }, false, 3));
    assert.ok(!left.claims({ tid: 8, name: 'ThreadPoolExecutor-0_0' }, false, 1));
    assert.equal(left.samples, 5);
  });
});

describe('CPU profiles: samples that wait are idle, whatever py-spy said', () => {
  it('a leaf at a blocking line, a server\'s idle loop and a pool thread between tasks wait', () => {
    const frame = (name: string, module: string, file = '/x.py', line = 1) => ({ name, module, file, line, kind: 'library' as const });
    assert.ok(leafWaits(frame('SyncWorker.wait', 'gunicorn.workers.sync')));
    assert.ok(leafWaits(frame('Arbiter.wait_for_signals', 'gunicorn.arbiter')));
    assert.ok(leafWaits({ ...frame('_worker', 'concurrent.futures.thread'), kind: 'stdlib' }));
    assert.ok(!leafWaits(frame('SyncWorker.handle', 'gunicorn.workers.sync')));
    assert.ok(leafWaits(frame('handle', 'app'), () => '        time.sleep(0.005)'));
    assert.ok(leafWaits(frame('poll', 'app'), () => '    ready = sel.select(0.5)'));
    assert.ok(!leafWaits(frame('handle', 'app'), () => '    total += sleep_count'));
    assert.ok(!leafWaits(frame('handle', 'app')), 'no source, no verdict from the line');
  });
});
