import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { indexTree, layoutFrames, pathTo, searchTree, toFlameTree } from '../../src/profile/flameLayout';
import { buildProfile, parseCollapsed } from '../../src/profile/model';

// Real py-spy raw output recorded from test/fixtures/cpu_service.py (see the folder's README).
const DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'profile');
const profileOf = (name: string) => buildProfile(parseCollapsed(readFileSync(path.join(DIR, name), 'utf8')));

describe('flame graph layout (recorded py-spy profiles)', () => {
  const root = toFlameTree(profileOf('cpu-service-native-idle.raw.txt').tree);
  const byId = indexTree(root);

  it('gives every node an id and a parent link', () => {
    let count = 0;
    for (const node of byId.values()) {
      count++;
      for (const child of node.children) assert.equal(child.parent, node);
    }
    assert.equal(byId.size, count);
    assert.ok(count > 20, `only ${count} nodes`);
  });

  it('sends only frames at least a pixel wide, children inside their parent, and nothing past the cap', () => {
    const all = layoutFrames(root, 0, new Set());
    const wide = layoutFrames(root, 1 / 200, new Set());
    assert.ok(wide.length < all.length, `${wide.length} of ${all.length}`);
    assert.ok(wide.every((f) => f.w >= 1 / 200));
    const at = new Map(all.map((f) => [f.id, f]));
    for (const f of all) {
      const parent = byId.get(f.id)!.parent;
      if (!parent || !at.has(parent.id)) continue;
      const p = at.get(parent.id)!;
      assert.ok(f.x >= p.x - 1e-9 && f.x + f.w <= p.x + p.w + 1e-9, `${f.name} outside ${p.name}`);
      assert.equal(f.depth, p.depth + 1);
    }
    assert.equal(layoutFrames(root, 0, new Set(), 10).length, 10);
  });

  it('zooms: the zoomed frame is the full width at depth 0, and its path leads back to the root', () => {
    const hot = [...byId.values()].find((n) => n.name === 'score_order')!;
    const frames = layoutFrames(hot, 0, new Set());
    assert.deepEqual([frames[0].id, frames[0].x, frames[0].w, frames[0].depth], [hot.id, 0, 1, 0]);
    const names = pathTo(hot).map((n) => n.name);
    assert.equal(names[0], 'all');
    assert.equal(names.at(-1), 'score_order');
  });

  it('search matches names and files case-insensitively and counts nested matches once', () => {
    const { matches, matchedSamples } = searchTree(root, 'SCORE_ORDER');
    assert.ok(matches.size >= 1);
    assert.ok(matchedSamples > 0 && matchedSamples <= root.total);
    const byFile = searchTree(root, 'cpu_service.py');
    assert.ok(byFile.matchedSamples <= root.total, 'a caller and its callee in the same file are counted once');
    assert.equal(searchTree(root, '   ').matches.size, 0);
  });
});

describe('SVG export (recorded py-spy profile)', () => {
  it('draws the frames wide enough, escapes target text, and keeps the full name in each title', async () => {
    const { toSvg } = await import('../../src/profile/export');
    const profile = profileOf('cpu-service.raw.txt');
    const svg = toSvg(profile, { title: '<script>alert(1)</script> & co' });
    assert.match(svg, /^<\?xml/);
    assert.ok(!svg.includes('<script>'), 'the title is escaped');
    assert.match(svg, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; co/);
    assert.match(svg, /<title>score_order \([^)]*cpu_service\.py:\d+\) — \d+ samples/);
    const rects = svg.match(/<rect /g)?.length ?? 0;
    assert.ok(rects > 3, `${rects} frames`);
    assert.ok(rects <= toFlameTree(profile.tree).total, 'never more frames than samples');
  });
});
