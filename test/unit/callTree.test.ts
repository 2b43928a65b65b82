import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CallTree } from '../../src/profile/callTree';
import { buildProfile, profileFromCollapsed } from '../../src/profile/model';

// Real py-spy raw output recorded from test/fixtures/cpu_service.py (see the folder's README).
// Before the object build was deleted, both builds gave the same tree, hot list and stacks on these
// files (with and without idle and a workspace root); these invariants stay.
const DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'profile');
const FILES = ['cpu-service.raw.txt', 'cpu-service-native-idle.raw.txt', 'cpu-service-library.raw.txt'];
const OPTIONS = [{}, { idle: true, workspaceRoots: ['/work/wt-profile/test/fixtures'] }];
const raw = (file: string) => readFileSync(path.join(DIR, file), 'utf8');
const plain = (x: unknown) => JSON.parse(JSON.stringify(x));
const ids = (calls: CallTree) => [...Array(calls.size).keys()];

describe('array call tree (recorded py-spy profiles)', () => {
  for (const file of FILES) {
    for (const options of OPTIONS) {
      describe(`${file} ${JSON.stringify(options)}`, () => {
        const text = raw(file);
        const profile = profileFromCollapsed(text, options);
        const calls = profile.calls;

        it('counts every sample once: the root has them all, and each node is its self plus its children', () => {
          const counted = text.split('\n').reduce((sum, line) => sum + Number(/ (\d+)$/.exec(line.trimEnd())?.[1] ?? 0), 0);
          assert.equal(profile.samples, counted);
          assert.equal(calls.total(0), counted);
          for (const id of ids(calls)) {
            const children = calls.children(id).reduce((sum, c) => sum + calls.total(c), 0);
            assert.equal(calls.total(id), calls.self(id) + children, `node ${id} (${calls.info(id).name})`);
            for (const c of calls.children(id)) assert.equal(calls.parent[c], id);
            if (id) assert.ok(calls.parent[id] < id, 'a parent comes before its children');
          }
          assert.equal(profile.hot.reduce((sum, h) => sum + h.self, 0), counted, 'self samples add up to all samples');
          assert.ok(profile.hot.every((h) => h.self <= h.total && h.total <= counted));
        });

        it('is the same built from text, from stacks, in chunks (as a live recording adds them), and from its own stacks', () => {
          const lines = text.split('\n');
          const chunked = new CallTree(options);
          chunked.addCollapsedText(lines.slice(0, lines.length >> 1).join('\n'));
          chunked.addCollapsedText(lines.slice(lines.length >> 1).join('\n'));
          // Stacks as objects (the workers' merge adds them so): split here, not by the tree's parser.
          const parsed = lines.map((l) => l.trimEnd()).filter((l) => / \d+$/.test(l))
            .map((l) => ({ frames: l.slice(0, l.lastIndexOf(' ')).split(';'), count: Number(l.slice(l.lastIndexOf(' ') + 1)) }));
          for (const other of [buildProfile(parsed, options), buildProfile(profile.stacks, options)]) {
            assert.deepEqual(plain(other.tree), plain(profile.tree));
            assert.deepEqual(plain(other.hot), plain(profile.hot));
          }
          assert.equal(chunked.size, calls.size);
          assert.deepEqual(ids(chunked).map((id) => [chunked.info(id).name, chunked.total(id), chunked.self(id), chunked.line(id)]),
            ids(calls).map((id) => [calls.info(id).name, calls.total(id), calls.self(id), calls.line(id)]));
        });

        it('search counts the nodes whose name or file matches, and covers nested matches once', () => {
          for (const query of ['score', 'CPU_SERVICE.PY', 'threading', 'no such frame']) {
            const search = calls.search(query);
            const needle = query.toLowerCase();
            const hit = (id: number) => id > 0 && (calls.info(id).name.toLowerCase().includes(needle) || (calls.info(id).file ?? '').toLowerCase().includes(needle));
            const matching = ids(calls).filter(hit);
            assert.equal(search.matchCount, matching.length, query);
            assert.deepEqual(ids(calls).filter((id) => search.matches[id] === 1), matching);
            const outermost = matching.filter((id) => !calls.pathTo(id).slice(0, -1).some(hit));
            assert.equal(search.matchedSamples, outermost.reduce((sum, id) => sum + calls.total(id), 0), query);
            assert.ok(search.matchedSamples <= calls.total(0));
          }
          assert.equal(calls.search('   ').matchCount, 0);
        });
      });
    }
  }

  it('skips blank and malformed lines, and reads counts as py-spy writes them', () => {
    const calls = new CallTree();
    calls.addCollapsedText('a (x.py:1);b (x.py:2) 3\r\n\nno-count\nc (y.py:5) zero\nd (y.py:6) -2\na (x.py:1);b (x.py:7) 2\n');
    assert.equal(calls.samples, 5);
    const b = calls.children(calls.children(0)[0])[0];
    assert.deepEqual([calls.info(b).name, calls.total(b), calls.line(b), calls.lines(b)], ['b', 5, 2, { 2: 3, 7: 2 }]);
  });

  it('keeps a node\'s samples per line: one line, several, and samples with no line (line 0, as py-spy writes an unknown line)', () => {
    const calls = new CallTree();
    calls.addCollapsedText('f (x.py:3) 2\nf (x.py:0) 1\ng (x.py:0) 1\ng (x.py:4) 2\nh (x.py:0) 4\nk (x.py:9) 5');
    const byName = Object.fromEntries(calls.children(0).map((id) => [calls.info(id).name, [calls.total(id), calls.line(id), calls.lines(id)]]));
    assert.deepEqual(byName, {
      f: [3, 3, { 3: 2 }],
      g: [3, 4, { 4: 2 }],
      h: [4, undefined, {}],
      k: [5, 9, { 9: 5 }],
    });
  });

  it('finds the children of a wide node (a child list below 8, a hash above) across chunks, one node per function', () => {
    // Every distinct frame of a recorded profile called from one dispatcher, twice over, in chunks.
    const frames = [...new Set(FILES.map(raw).join('\n').split('\n').flatMap((l) => l.slice(0, l.lastIndexOf(' ')).split(';')).filter(Boolean))];
    assert.ok(frames.length > 20, `${frames.length} frames`);
    const calls = new CallTree();
    for (let round = 0; round < 2; round++) {
      for (let at = 0; at < frames.length; at += 5) {
        calls.addCollapsedText(frames.slice(at, at + 5).map((f, i) => `dispatch (d.py:1);${f};leaf (l.py:${at + i}) 1`).join('\n'));
      }
    }
    const dispatch = calls.children(0)[0];
    const children = calls.children(dispatch);
    const names = children.map((c) => `${calls.info(c).name} ${calls.info(c).file}`);
    assert.equal(new Set(names).size, names.length, 'no function twice under one parent');
    assert.equal(calls.total(dispatch), 2 * frames.length);
    assert.equal(children.reduce((sum, c) => sum + calls.total(c), 0), 2 * frames.length);
    for (const c of children) assert.equal(calls.children(c).length, 1, 'one leaf node per child, whatever its lines');
  });
});
