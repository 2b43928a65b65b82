// Kept profiles, the editor's per-line heat and the differential profile, on profiles py-spy
// recorded from test/fixtures/cpu_service.py (test/fixtures/recorded/profile/README.md).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { diffProfiles } from '../../src/profile/diff';
import { defLineOf, hotLenses, isUnder, lineDecorations, lineHeatOf } from '../../src/profile/lineHeat';
import { profileFromCollapsed, type CpuProfile } from '../../src/profile/model';
import { clockTime, ProfileStore, profileRowLabel, shortDuration, type KeptProfile } from '../../src/profile/profileStore';
import { mergeWorkerStacks, profileForWorker } from '../../src/profile/workers';

const REPO = path.resolve(__dirname, '..', '..', '..');
const DIR = path.join(REPO, 'test', 'fixtures', 'recorded', 'profile');
/** Where the recorded files were made (see their README). */
const ROOT = '/work/wt-profile/test/fixtures';
const FIXTURE = `${ROOT}/cpu_service.py`;
const SOURCE = readFileSync(path.join(REPO, 'test', 'fixtures', 'cpu_service.py'), 'utf8').split('\n');
const load = (name: string): CpuProfile => profileFromCollapsed(readFileSync(path.join(DIR, name), 'utf8'), { workspaceRoots: [ROOT] });

describe('ProfileStore: CPU profiles kept per session, bounded', () => {
  const profile = load('cpu-service.raw.txt');
  const session = (pid: number) => ({ kind: 'session' as const, pid, startedAt: 1000 });
  const entry = (pid: number, startedAt: number): Omit<KeptProfile, 'id'> =>
    ({ owner: session(pid), label: `cpu_service.py (pid ${pid})`, startedAt, durationMs: 10_000, rate: 100, profile });

  it('lists a session\'s profiles newest first, apart from other sessions\', and says which changed', () => {
    const store = new ProfileStore();
    let changes = 0;
    store.onDidChange(() => changes++);
    const a = store.add(entry(1, 1));
    const b = store.add(entry(1, 2));
    const other = store.add(entry(2, 3));
    assert.deepEqual(store.of(session(1)).map((p) => p.id), [b.id, a.id]);
    assert.deepEqual(store.of(session(2)).map((p) => p.id), [other.id]);
    assert.deepEqual(store.of({ kind: 'session', pid: 1, startedAt: 999 }), [], 'a new session of a reused pid has none');
    assert.equal(store.latest, other);
    assert.equal(changes, 3);
    assert.ok(store.delete(a.id));
    assert.equal(store.get(a.id), undefined);
    assert.ok(!store.delete(a.id));
    assert.equal(changes, 4);
  });

  it('keeps at most maxPerOwner per session and maxTotal in all, dropping the oldest', () => {
    const store = new ProfileStore(3, 5);
    const first = [1, 2, 3, 4].map((t) => store.add(entry(1, t)));
    assert.deepEqual(store.of(session(1)).map((p) => p.startedAt), [4, 3, 2], 'the oldest of the session went');
    assert.equal(store.get(first[0].id), undefined);
    [5, 6, 7].forEach((t) => store.add(entry(2, t)));
    assert.equal(store.all.length, 5);
    assert.deepEqual(store.all.map((p) => p.startedAt), [7, 6, 5, 4, 3], 'the oldest overall went');
    assert.equal(new ProfileStore().maxPerOwner, 10);
    assert.equal(new ProfileStore().maxTotal, 50);
  });

  it('row text: "CPU profile · 12:03:44 · 2,431 samples · 10 s"', () => {
    const startedAt = new Date(2026, 10, 26, 12, 3, 44).getTime();
    assert.equal(clockTime(startedAt), '12:03:44');
    assert.equal(profileRowLabel({ ...entry(1, startedAt), id: 1 }), 'CPU profile · 12:03:44 · 158 samples · 10 s');
    const big = { ...entry(1, startedAt), id: 2, profile: { ...profile, samples: 2431 } };
    assert.equal(profileRowLabel(big), 'CPU profile · 12:03:44 · 2,431 samples · 10 s');
    const workers = { ...big, workers: [{ pid: 10, profile }, { pid: 11, profile }] };
    assert.equal(profileRowLabel(workers), 'CPU profile of 2 workers · 12:03:44 · 2,431 samples · 10 s');
    assert.deepEqual([400, 10_400, 65_000, 120_000].map(shortDuration), ['0.4 s', '10 s', '1 min 5 s', '2 min']);
  });
});

describe('CPU profile in the editor: samples per line → decorations and CodeLens', () => {
  const profile = load('cpu-service.raw.txt'); // 158 samples

  it('counts self (leaf line) and total (on the stack) per line, only for files under the workspace', () => {
    const heat = lineHeatOf(profile, [ROOT]);
    assert.deepEqual([...heat.keys()], [FIXTURE], 'threading.py (stdlib) is not under the workspace');
    const lines = heat.get(FIXTURE)!;
    assert.deepEqual(lines.get(21), { self: 108, total: 108 });
    assert.deepEqual(lines.get(20), { self: 23, total: 23 });
    assert.deepEqual(lines.get(30), { self: 6, total: 6 });
    assert.deepEqual(lines.get(31), { self: 0, total: 131 }, 'the call site of score_order');
    assert.equal(lines.get(56), undefined, 'housekeeping waits in Event.wait (stdlib): not CPU, though py-spy counted it 21 times');
    assert.deepEqual(lines.get(69), { self: 0, total: 137 });
    assert.equal(lineHeatOf(profile, ['/somewhere/else']).size, 0);
    assert.ok(isUnder(FIXTURE, [ROOT]) && isUnder(FIXTURE, [`${ROOT}/`]) && !isUnder(ROOT, [ROOT]) && !isUnder('/work/wt-profile/x.py', [ROOT]));
  });

  it('a sleep line is not CPU when its source can be read (py-spy counted the thread active right after its sleep)', () => {
    const lineText = (file: string, line: number) => (file === FIXTURE ? SOURCE[line - 1] : undefined);
    assert.match(SOURCE[29], /time\.sleep\(0\.01\)/);
    const read = profileFromCollapsed(readFileSync(path.join(DIR, 'cpu-service.raw.txt'), 'utf8'), { workspaceRoots: [ROOT], lineText });
    const lines = lineHeatOf(read, [ROOT]).get(FIXTURE)!;
    assert.equal(lines.get(30), undefined, 'time.sleep(0.01): 6 samples, idle');
    assert.deepEqual(lines.get(31), { self: 0, total: 131 });
    assert.equal(read.idleSamples, 6 + 21);
    assert.ok(!hotLenses(read.hot, FIXTURE, SOURCE, read.samples).some((l) => l.function === 'housekeeping'));
    const handle = read.hot.filter((h) => h.function === 'handle_request').map((h) => [h.kind, h.self, h.total]);
    assert.deepEqual(handle.sort(), [['idle', 6, 6], ['own', 0, 131]], 'its sleep is its idle twin');
  });

  it('maps lines to end-of-line hints with heat levels (0-based lines)', () => {
    const decorations = lineDecorations(lineHeatOf(profile, [ROOT]).get(FIXTURE), profile.samples);
    const byLine = new Map(decorations.map((d) => [d.line + 1, d]));
    assert.deepEqual(decorations.map((d) => d.line), [19, 20, 29, 30, 47, 64, 68]);
    assert.equal(byLine.get(21)!.text, '▮▮▮▮ 68% self');
    assert.equal(byLine.get(21)!.level, 4);
    assert.equal(byLine.get(20)!.text, '▮▮▮ 15% self');
    assert.equal(byLine.get(30)!.text, '▮▮ 3.8% self');
    assert.equal(byLine.get(31)!.text, '▮▮▮▮ 83% total');
    assert.equal(byLine.get(21)!.hover, 'CPU profile: line 21 — self 108 samples (68%), total 108 samples (68%) of 158');
    // Lines under the threshold get nothing; an empty profile or file nothing at all.
    assert.deepEqual(lineDecorations(lineHeatOf(profile, [ROOT]).get(FIXTURE), profile.samples, { minFraction: 0.5 }).map((d) => d.line + 1), [21, 31, 48, 65, 69]);
    assert.deepEqual(lineDecorations(undefined, 158), []);
  });

  it('puts a CodeLens on the def of each hot function: "83% of CPU (83% self) · open flame graph"', () => {
    assert.equal(defLineOf(SOURCE, 'score_order', 21), 17);
    assert.equal(defLineOf(SOURCE, 'Worker.handle_request', 31), 28, 'the qualified name\'s last part');
    assert.equal(defLineOf(SOURCE, 'score_order', 5), undefined, 'no def above the line');
    const lenses = hotLenses(profile.hot, FIXTURE, SOURCE, profile.samples);
    assert.deepEqual(lenses.map((l) => [l.line, l.function, l.title]), [
      [17, 'score_order', '83% of CPU (83% self) · open flame graph'],
      [28, 'handle_request', '87% of CPU (3.8% self) · open flame graph'],
      [38, 'serve_forever', '87% of CPU · open flame graph'],
      [58, 'main', '87% of CPU · open flame graph'],
    ]);
    assert.deepEqual(hotLenses(profile.hot, '/other.py', SOURCE, profile.samples), []);
  });
});

describe('differential profile: before → after, normalised to each profile\'s total', () => {
  // Before: the plain service (158 samples); after: the same service rendering a jinja2 template per request (184).
  const before = load('cpu-service.raw.txt');
  const after = load('cpu-service-library.raw.txt');
  const diff = diffProfiles(before, after);
  const find = (names: string[]) => names.reduce((node, name) => node.children.find((c) => c.name === name)!, diff.tree);

  it('widths are the after-profile, each frame carries its share change', () => {
    assert.equal(diff.samples, 184);
    assert.equal(diff.beforeSamples, 158);
    assert.equal(diff.tree.total, 184);
    const score = find(['<module>', 'main', 'serve_forever', 'handle_request', 'score_order']);
    assert.equal(score.total, 98);
    assert.equal(score.beforeTotal, 131);
    assert.ok(Math.abs(score.delta - (98 / 184 - 131 / 158)) < 1e-12);
    assert.ok(score.delta < -0.29, 'score_order shrank from 83% to 53% of the samples');
    const render = find(['<module>', 'main', 'serve_forever', 'render_page']);
    assert.equal(render.beforeTotal, 0, 'new in the after-profile');
    assert.ok(Math.abs(render.delta - render.total / 184) < 1e-12 && render.delta > 0);
    assert.equal(diff.tree.delta, 0, 'the root is all of both');
  });

  it('the hot table is sorted by change of self share, shrinking and vanished functions included', () => {
    const rows = diff.hot.map((h) => [h.function, h.delta]);
    assert.deepEqual(rows.slice(0, 3), [['score_order', -29.65], ['Environment.getattr', 9.78], ['render_page.<locals>.<listcomp>', 4.35]]);
    assert.ok(!diff.hot.some((h) => h.kind === 'idle'), 'Condition.wait (+6.82) waits: no row');
    const score = diff.hot[0];
    assert.equal(score.beforeSelfPercent, 82.91);
    assert.equal(score.selfPercent, 53.26);
    for (let i = 1; i < diff.hot.length; i++) assert.ok(Math.abs(diff.hot[i - 1].delta) >= Math.abs(diff.hot[i].delta));
    // Reversed, score_order grows by as much, and the jinja frames vanish (width 0, still in the table).
    const back = diffProfiles(after, before);
    assert.equal(back.hot[0].function, 'score_order');
    assert.equal(back.hot[0].delta, 29.65);
    const getattr = back.hot.find((h) => h.function === 'Environment.getattr')!;
    assert.deepEqual([getattr.self, getattr.delta], [0, -9.78]);
    const gone = back.tree.children.find((c) => c.name === '<module>')!.children[0].children[0].children.find((c) => c.name === 'render_page')!;
    assert.equal(gone.total, 0);
    assert.ok(gone.delta < 0);
  });
});

describe('profile of all workers: merged, and filtered by worker', () => {
  it('merges two workers\' stacks (samples add up) and the filter shows one worker\'s', () => {
    const one = load('cpu-service.raw.txt');
    const two = load('cpu-service-library.raw.txt');
    const workers = [{ pid: 11, profile: one }, { pid: 12, profile: two }];
    const merged = mergeWorkerStacks([one, two], { workspaceRoots: [ROOT] });
    assert.equal(merged.samples, 158 + 184);
    const score = merged.hot.find((h) => h.function === 'score_order')!;
    assert.equal(score.self, 131 + 98);
    assert.equal(profileForWorker(merged, workers, undefined), merged);
    assert.equal(profileForWorker(merged, workers, 12), two);
    assert.equal(profileForWorker(merged, workers, 99).samples, 0);
  });
});
