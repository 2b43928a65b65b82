import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { layoutFrames } from '../../src/profile/flameLayout';
import { profileFromCollapsed } from '../../src/profile/model';

// Real py-spy raw output recorded from test/fixtures/cpu_service.py (see the folder's README).
const DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'profile');
const profileOf = (name: string) => profileFromCollapsed(readFileSync(path.join(DIR, name), 'utf8'));

describe('flame graph layout (recorded py-spy profiles)', () => {
  const calls = profileOf('cpu-service-native-idle.raw.txt').calls;

  it('sends only frames at least a pixel wide, children inside their parent, and nothing past the cap', () => {
    const all = layoutFrames(calls, 0, 0);
    const wide = layoutFrames(calls, 0, 1 / 200);
    assert.equal(all.length, calls.size, 'every node, with no cutoff');
    assert.ok(wide.length < all.length, `${wide.length} of ${all.length}`);
    assert.ok(wide.every((f) => f.w >= 1 / 200));
    const at = new Map(all.map((f) => [f.id, f]));
    for (const f of all) {
      if (f.id === 0) continue;
      const p = at.get(calls.parent[f.id])!;
      assert.ok(f.x >= p.x - 1e-9 && f.x + f.w <= p.x + p.w + 1e-9, `${f.name} outside ${p.name}`);
      assert.equal(f.depth, p.depth + 1);
    }
    assert.equal(layoutFrames(calls, 0, 0, undefined, 10).length, 10);
  });

  it('zooms: the zoomed frame is the full width at depth 0, and its path leads back to the root', () => {
    const hot = [...Array(calls.size).keys()].find((id) => calls.info(id).name === 'score_order')!;
    const frames = layoutFrames(calls, hot, 0);
    assert.deepEqual([frames[0].id, frames[0].x, frames[0].w, frames[0].depth], [hot, 0, 1, 0]);
    assert.ok(frames.every((f) => calls.pathTo(f.id).includes(hot)), 'only frames under the zoomed one');
    const names = calls.pathTo(hot).map((id) => calls.info(id).name);
    assert.equal(names[0], 'all');
    assert.equal(names.at(-1), 'score_order');
  });

  it('marks the search matches it draws', () => {
    const search = calls.search('score_order');
    const frames = layoutFrames(calls, 0, 0, search.matches);
    assert.equal(frames.filter((f) => f.match).length, search.matchCount);
    assert.ok(frames.filter((f) => f.match).every((f) => f.name === 'score_order'));
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
    assert.ok(rects <= profile.calls.size, 'never more frames than nodes');
  });
});
