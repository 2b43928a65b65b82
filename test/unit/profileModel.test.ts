import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { perfJson } from '../../src/cli/perf';
import { localHost } from '../../src/host/localHost';
import { perfText } from '../../src/profile/profileText';
import { toCollapsed, toSpeedscope, writeCollapsed, writeSpeedscope } from '../../src/profile/export';
import {
  classifyFrame, hotOwnAndLibrary, hottestPath, parseFrame, profileFromCollapsed, profileOf,
  type CallTreeNode, type CpuProfile,
} from '../../src/profile/model';
import { CallTree } from '../../src/profile/callTree';
import { pySpyArgs, pySpyError, saysTargetExited, type CpuProfileResult } from '../../src/profile/record';
import { pySpyCandidates } from '../../src/processes/pySpy';
import { unusedPid } from '../support/fixtures';

const DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'profile');
const raw = (name: string) => readFileSync(path.join(DIR, name), 'utf8');
/** Where the recorded files were made (see their README). */
const ROOT = '/work/wt-profile/test/fixtures';
const FIXTURE = `${ROOT}/cpu_service.py`;
/** py-spy's own "Samples: N" for each file when it wrote it. */
const PY_SPY_SAMPLES = { 'cpu-service.raw.txt': 158, 'cpu-service-native-idle.raw.txt': 398, 'cpu-service-library.raw.txt': 184 };

function walk(node: CallTreeNode, visit: (n: CallTreeNode) => void): void {
  visit(node);
  node.children.forEach((c) => walk(c, visit));
}

describe('profile model: frames', () => {
  it('parses Python, native and synthetic frames as py-spy writes them', () => {
    assert.deepEqual(parseFrame(`score_order (${FIXTURE}:21)`), { name: 'score_order', file: FIXTURE, line: 21 });
    assert.deepEqual(parseFrame('render_page.<locals>.<listcomp> (/a/b.py:36)'), { name: 'render_page.<locals>.<listcomp>', file: '/a/b.py', line: 36 });
    assert.deepEqual(parseFrame('root (<template>:22)'), { name: 'root', file: '<template>', line: 22 });
    assert.deepEqual(parseFrame('0x7f0992a4524a (/usr/lib/x86_64-linux-gnu/libc.so.6)'), { name: '0x7f0992a4524a', file: '/usr/lib/x86_64-linux-gnu/libc.so.6' });
    assert.deepEqual(parseFrame('encoder_call (/tmp/build/Modules/_json.c:1305)'), { name: 'encoder_call', file: '/tmp/build/Modules/_json.c', line: 1305 });
    assert.deepEqual(parseFrame('something odd'), { name: 'something odd' });
  });

  it('classifies own code, libraries, the standard library and native code by path', () => {
    const opts = { workspaceRoots: [ROOT] };
    const c = (text: string, o = opts) => classifyFrame(parseFrame(text), o);
    assert.deepEqual([c(`score_order (${FIXTURE}:21)`).kind, c(`score_order (${FIXTURE}:21)`).module], ['own', 'cpu_service']);
    const lib = c('Template.render (/work/wt-profile/.venv/lib/python3.11/site-packages/jinja2/environment.py:1293)');
    assert.deepEqual([lib.kind, lib.module], ['library', 'jinja2.environment']);
    assert.equal(c('x (/usr/lib/python3/dist-packages/requests/__init__.py:1)').module, 'requests');
    const std = c('JSONEncoder.encode (/root/.pyenv/versions/3.11.7/lib/python3.11/json/encoder.py:200)');
    assert.deepEqual([std.kind, std.module], ['stdlib', 'json.encoder']);
    assert.equal(c('_call_with_frames_removed (<frozen importlib._bootstrap>:241)').kind, 'stdlib');
    const so = c('_PyEval_EvalFrameDefault (/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0)');
    assert.deepEqual([so.kind, so.module], ['native', 'libpython3.11.so.1.0']);
    assert.equal(c('time_sleep (/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0)').kind, 'idle', 'a native wait');
    assert.equal(c('encoder_call (/tmp/build/Modules/_json.c:1305)').kind, 'native');
    assert.equal(c('0x7f0992a4524a (/usr/lib/x86_64-linux-gnu/libc.so.6)').kind, 'native');
    // Outside the workspace but not a library or stdlib: not own code.
    assert.equal(c('main (/opt/other/app.py:3)').kind, 'library');
    // Without a workspace root every plain Python file is own code.
    assert.equal(c('main (/opt/other/app.py:3)', {} as typeof opts).kind, 'own');
    // Wait functions are idle whether or not py-spy was asked for idle threads: it counts waiting threads active at times.
    assert.equal(c('clock_nanosleep (/usr/lib/x86_64-linux-gnu/libc.so.6)').kind, 'idle');
    assert.equal(c('Condition.wait (/root/.pyenv/versions/3.11.7/lib/python3.11/threading.py:331)').kind, 'idle');
    // A user's own function named `wait` is not a wait function, nor is an unknown native one.
    assert.equal(c(`wait (${FIXTURE}:3)`).kind, 'own');
    assert.equal(c('encoder_call (/tmp/build/Modules/_json.c:1305)').kind, 'native');
  });
});

describe('profile model: recorded py-spy raw files', () => {
  for (const [file, expected] of Object.entries(PY_SPY_SAMPLES)) {
    it(`${file}: counts every sample py-spy reported, and each node's total is its self plus its children`, () => {
      const profile = profileFromCollapsed(raw(file), { workspaceRoots: [ROOT] });
      assert.equal(profile.samples, expected);
      assert.equal(profile.tree.total, expected);
      walk(profile.tree, (n) => assert.equal(n.total, n.self + n.children.reduce((s, c) => s + c.total, 0), n.name));
      for (const f of profile.hot) assert.ok(f.total >= f.self && f.total <= profile.samples, f.function);
      assert.deepEqual(profile.hot.map((f) => f.self), [...profile.hot.map((f) => f.self)].sort((a, b) => b - a));
    });
  }

  it('default options: the fixture\'s hot loop is the top own-code function, on the hottest path', () => {
    const profile = profileFromCollapsed(raw('cpu-service.raw.txt'), { workspaceRoots: [ROOT] });
    const top = hotOwnAndLibrary(profile)[0];
    assert.equal(top.function, 'score_order');
    assert.equal(top.kind, 'own');
    assert.equal(top.module, 'cpu_service');
    assert.equal(top.file, FIXTURE);
    assert.equal(top.line, 21); // the line with the most self samples
    assert.ok(top.selfPercent > 50);
    const handle = profile.hot.find((f) => f.function === 'handle_request')!;
    assert.ok(handle.total >= top.total);
    assert.deepEqual(hottestPath(profile).map((n) => n.name), ['<module>', 'main', 'serve_forever', 'handle_request', 'score_order']);
    assert.ok(!('calls' in top));
  });

  it('native + idle: native frames are native, waiting threads are idle below their wait function', () => {
    const profile = profileFromCollapsed(raw('cpu-service-native-idle.raw.txt'), { workspaceRoots: [ROOT] });
    const kinds = new Set<string>();
    walk(profile.tree, (n) => kinds.add(n.kind));
    assert.ok(kinds.has('native') && kinds.has('idle') && kinds.has('own') && kinds.has('stdlib'));
    const byName = (name: string) => profile.hot.filter((f) => f.function === name);
    assert.equal(byName('clock_nanosleep')[0].kind, 'idle');
    assert.equal(byName('Condition.wait')[0].kind, 'idle');
    assert.equal(byName('encoder_call')[0].kind, 'native');
    // The idle housekeeping thread's unsymbolized libc leaves count as idle, not as native work.
    const idleSelf = profile.hot.filter((f) => f.kind === 'idle').reduce((s, f) => s + f.self, 0);
    const housekeepingAndSleep = profile.stacks
      .filter((s) => s.frames.some((f) => f.startsWith('housekeeping ') || f.startsWith('clock_nanosleep '))).reduce((s, x) => s + x.count, 0);
    assert.equal(idleSelf, housekeepingAndSleep);
    assert.equal(hotOwnAndLibrary(profile)[0].function, 'score_order');
  });

  it('library frames: jinja2 is a library with its module; waiting frames are idle though py-spy was not asked for idle threads', () => {
    const profile = profileFromCollapsed(raw('cpu-service-library.raw.txt'), { workspaceRoots: [ROOT] });
    const render = profile.hot.find((f) => f.function === 'Template.render')!;
    assert.equal(render.kind, 'library');
    assert.equal(render.module, 'jinja2.environment');
    assert.equal(profile.hot.find((f) => f.function === 'Condition.wait')!.kind, 'idle');
    const own = hotOwnAndLibrary(profile);
    assert.equal(own[0].function, 'score_order');
    assert.ok(own.some((f) => f.function === 'Environment.getattr' && f.kind === 'library'));
  });

  it('merges chunks by summing identical stacks', () => {
    const calls = new CallTree();
    calls.addCollapsedText(raw('cpu-service.raw.txt'));
    calls.addCollapsedText(raw('cpu-service.raw.txt'));
    const twice = profileOf(calls);
    const once = profileFromCollapsed(raw('cpu-service.raw.txt'));
    assert.equal(twice.samples, 2 * PY_SPY_SAMPLES['cpu-service.raw.txt']);
    assert.equal(twice.tree.children.length, once.tree.children.length);
    assert.equal(twice.stacks.length, once.stacks.length, 'the same stacks, summed');
    assert.deepEqual(twice.stacks.map((s) => s.count), once.stacks.map((s) => 2 * s.count));
  });

  it('counts a recursive function once per sample in its total', () => {
    const profile = profileFromCollapsed('a (/x.py:1);f (/x.py:2);f (/x.py:2);f (/x.py:3) 4\na (/x.py:1);g (/x.py:9) 1\n');
    const f = profile.hot.find((h) => h.function === 'f')!;
    assert.deepEqual([f.self, f.total, f.totalPercent], [4, 4, 80]);
  });
});

describe('profile export', () => {
  const profile = profileFromCollapsed(raw('cpu-service-library.raw.txt'), { workspaceRoots: [ROOT] });

  it('speedscope: a sampled profile whose weights add up to the samples (seconds at the rate)', () => {
    const file = toSpeedscope(profile, { name: 'cpu_service.py (pid 1)', rate: 100 });
    assert.equal(file.$schema, 'https://www.speedscope.app/file-format-schema.json');
    const [p] = file.profiles;
    assert.equal(p.type, 'sampled');
    assert.equal(p.unit, 'seconds');
    assert.equal(p.samples.length, p.weights.length);
    assert.ok(Math.abs(p.endValue - profile.samples / 100) < 1e-9);
    for (const s of p.samples) for (const i of s) assert.ok(i >= 0 && i < file.shared.frames.length);
    assert.equal(new Set(file.shared.frames.map((f) => `${f.name}|${f.file}|${f.line}`)).size, file.shared.frames.length);
    assert.ok(file.shared.frames.some((f) => f.name === 'score_order' && f.file === FIXTURE && f.line === 21));
    const counts = toSpeedscope(profile, { name: 'x' }).profiles[0];
    assert.equal(counts.unit, 'none');
    assert.equal(counts.endValue, profile.samples);
  });

  it('collapsed stacks round-trip', () => {
    const text = toCollapsed(profile.stacks);
    const again = profileFromCollapsed(text, { workspaceRoots: [ROOT] });
    assert.equal(again.samples, profile.samples);
    assert.deepEqual(again.hot, profile.hot);
  });

  it('writes both files atomically (nothing else left in the folder)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pyflight-export-test-'));
    try {
      await writeSpeedscope(path.join(dir, 'p.speedscope.json'), profile, { name: 'p', rate: 100 });
      await writeCollapsed(path.join(dir, 'p.txt'), profile);
      assert.deepEqual(readdirSync(dir).sort(), ['p.speedscope.json', 'p.txt']);
      assert.equal(JSON.parse(readFileSync(path.join(dir, 'p.speedscope.json'), 'utf8')).profiles[0].type, 'sampled');
      assert.equal(profileFromCollapsed(readFileSync(path.join(dir, 'p.txt'), 'utf8')).samples, profile.samples);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pyflight perf output and py-spy command line', () => {
  const profile: CpuProfile = profileFromCollapsed(raw('cpu-service-library.raw.txt'));
  const result: CpuProfileResult = { profile, chunks: 2, elapsedMs: 2100, pid: 42, rate: 100, native: false, idle: false, gil: false,
    nonblocking: false, pySpy: '/venv/bin/py-spy', end: { reason: 'duration' } };

  it('JSON: samples, own-code and library functions by self time, and the tree', () => {
    const json = perfJson(result) as { samples: number; hot: Array<Record<string, unknown>>; tree: CallTreeNode };
    assert.equal(json.samples, 184);
    assert.equal(json.hot[0].function, 'score_order');
    for (const f of json.hot) {
      assert.ok(['own', 'library'].includes(f.kind as string));
      for (const key of ['function', 'file', 'line', 'self', 'total']) assert.ok(key in f, key);
    }
    assert.equal(json.tree.total, 184);
  });

  it('text: a top-N table and the hottest path', () => {
    const text = perfText(result, 3);
    assert.match(text, /^Process 42: 184 samples in 2\.1 s at 100 Hz/);
    const rows = text.split('\n').filter((l) => /^\s+\d+\.\d%\s+\d+\.\d%/.test(l));
    assert.equal(rows.length, 3);
    assert.match(rows[0], /score_order/);
    assert.match(text, /Hottest path:\n\s+<module>/);
    assert.match(text, /elsewhere \(self\): .*idle \d/);
  });

  it('looks for py-spy next to the interpreter, then on PATH, and passes the options', () => {
    assert.deepEqual(pySpyCandidates('/nonexistent/venv/bin/python', '/usr/bin:/bin'),
      ['/nonexistent/venv/bin/py-spy', '/usr/bin/py-spy', '/bin/py-spy']);
    assert.deepEqual(pySpyArgs(7, '/t/o.txt', { rate: 250, seconds: 1, native: true, idle: true, gil: true, nonblocking: true }),
      ['record', '--pid', '7', '--rate', '250', '--format', 'raw', '--full-filenames', '--threads', '-o', '/t/o.txt', '--duration', '1',
        '--native', '--idle', '--gil', '--nonblocking']);
    assert.ok(!pySpyArgs(7, '/o', { rate: 100, seconds: 1 }).includes('--nonblocking'));
  });
});

describe('py-spy failures in PyFlight\'s words (output recorded from real py-spy runs)', () => {
  const run = (file: string, code: number | null = 1) => ({ code, signal: null, output: raw(file) });

  it('permission denied → PERMISSION_DENIED with a next step', async () => {
    const error = await pySpyError(process.pid, '/venv/bin/py-spy', run('py-spy-output-permission-denied.txt'), localHost);
    assert.equal(error.code, 'PERMISSION_DENIED');
    assert.ok(error.hint);
  });

  it('a process that is gone → TARGET_EXITED', async () => {
    const error = await pySpyError(unusedPid(), '/venv/bin/py-spy', run('py-spy-output-no-such-process.txt'), localHost);
    assert.equal(error.code, 'TARGET_EXITED');
  });

  it('anything else → py-spy\'s own first line and how to see the rest', async () => {
    const error = await pySpyError(process.pid, '/venv/bin/py-spy', run('py-spy-output-not-python.txt'), localHost);
    assert.equal(error.code, 'ATTACH_FAILED');
    assert.equal(error.message, `py-spy could not profile process ${process.pid}: Failed to find python version from target process`);
    assert.match(error.hint!, /py-spy record --pid/);
  });

  it('recognises a target that exited while py-spy sampled (it exits 0 and keeps the samples)', () => {
    assert.ok(saysTargetExited(raw('py-spy-output-target-exited.txt')));
    assert.ok(!saysTargetExited(raw('py-spy-output-not-python.txt')));
  });
});
