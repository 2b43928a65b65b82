import assert from 'node:assert/strict';
import { backedGrowth, cacheGrows, cacheText, censusProgressText, diffReport, growthBar, growthVerdict, ownsEachText, rankedRows, statsText } from '../../src/memory/census';
import { steadyFinding } from '../../src/diagnose/memory';
import type { MemDiffResult } from '../../src/protocol/helper';

// A census diff as the helper answers it (python/pyflight_helper/commands/census.py): Session grew
// with its floats; the floats' growth is explained by Session; an int row did not change.
const diff: MemDiffResult = {
  kind: 'diff', engine: 'census', capturedAt: 1, endedAt: 2, intervalSeconds: 10, limit: 30, order: 'growth', args: 'diff --interval 10 --limit 30 --order growth',
  rows: [
    { type: 'float', count: 64000, size: 1536000, sizeText: '1536000 B', sizeApprox: false, growth: 0, explainedBy: [{ owner: 'app.Session', count: 64000, size: 1536000 }] },
    { type: 'app.Session', count: 1000, size: 56000, sizeText: '56000 B', sizeApprox: false, owned: 2104000, growth: 2160000, ownsEach: { float: 64, list: 1 } },
    { type: 'str', count: 900, size: 54000, sizeText: '54000 B', sizeApprox: false, growth: 54000 },
    { type: 'int', count: 0, size: 0, sizeText: '0 B', sizeApprox: false, growth: 0 },
  ],
  containers: [{ path: 'app._sessions', kind: 'global', type: 'dict', len: 46753, id: '1', holds: 'app.Session', size: 2_400_000, grown: 1000, new: false }],
  caches: [{ function: 'app.quote_price', currsize: 1_200_000, maxsize: null, hits: 3, misses: 1_200_000, id: '2', file: '/srv/app.py', line: 12, grown: 4000 }],
  census: [{ tracked: 2_000_000, walked: 2_000_000, sample: 1, listMs: 17.3, longestSliceMs: 42.2, slices: 900, elapsedMs: 6700, listBytes: 16_000_000, python: '3.11.7' },
    { tracked: 2_100_000, walked: 2_100_000, sample: 1, listMs: 18.1, longestSliceMs: 30.5, slices: 950, elapsedMs: 8300, listBytes: 16_800_000, python: '3.11.7' }],
};

describe('census diff as text (src/memory/census.ts)', () => {
  it('ranks the owner class first, drops unchanged rows, and can rank by raw size', () => {
    assert.deepEqual(rankedRows(diff).map((r) => r.type), ['app.Session', 'str', 'float']);
    assert.deepEqual(rankedRows(diff, true).map((r) => r.type), ['float', 'app.Session', 'str']);
  });

  it('says what each instance holds, biggest counts first', () => {
    assert.equal(ownsEachText(diff.rows[1]), '64 float and a list');
    assert.equal(ownsEachText(diff.rows[0]), undefined);
  });

  it('progress, caches and the census figures in words', () => {
    assert.equal(censusProgressText('census', 'first 40 2700000'), 'first census: 40 % of 2.7 M tracked objects');
    assert.equal(censusProgressText('waiting', '5'), undefined);
    assert.equal(cacheText(diff.caches![0]), 'the unbounded lru_cache of app.quote_price holds 1,200,000 entries (+4,000 in the interval), /srv/app.py:12');
    assert.equal(statsText(diff.census), 'Census: 2.1 M tracked objects, 6.7 s and 8.3 s in the process; longest pause 42 ms (gc.get_objects 18 ms), its list 16.0 MB.');
  });

  it('the CLI report: the table, the containers and caches that grew, the census line', () => {
    const lines = diffReport(4242, diff);
    assert.match(lines[0], /^Process 4242: what changed in 10 s, what your code owns first/);
    assert.match(lines[2], /^\s+\+1,000\s+\+54\.7 KB\s+\+2\.1 MB\s+app\.Session  \(each holds 64 float and a list\)$/);
    assert.ok(lines.some((l) => /float  \(held in app\.Session \(\+1\.5 MB\)\)$/.test(l)), lines.join('\n'));
    assert.ok(!lines.some((l) => /\bint\b/.test(l)), 'no all-zero rows');
    assert.ok(lines.includes('  app._sessions (dict, 46,753 entries, +1,000, of app.Session)'), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('  the unbounded lru_cache of app.quote_price')));
    assert.ok(lines[lines.length - 1].startsWith('Census: 2.1 M tracked objects'));
  });

  // Issue 19's steady services: growth is judged against the heap, and in both halves when a middle census was taken.
  const heap = { before: { objects: 2_000_000, size: 100_000_000 }, after: { objects: 2_000_000, size: 100_000_000 } };
  const row = (type: string, growth: number, firstHalf?: number) => ({ type, count: 1, size: growth, sizeText: '', sizeApprox: false, growth,
    ...(firstHalf !== undefined ? { firstHalf: { count: 0, size: firstHalf, growth: firstHalf } } : {}) });

  it('the bar: 0.1 % of the heap; without halves raised to what a type fell by; with halves growth must show in both', () => {
    const noHalves: MemDiffResult = { ...diff, totals: heap, rows: [row('str', 150_000), row('dict', -300_000)] };
    const bar = growthBar(noHalves);
    assert.deepEqual({ ...bar, sizes: undefined }, { heapBytes: 100_000_000, bytes: 300_000, by: 'churn', churnType: 'dict', halves: false, sizes: undefined });
    assert.equal(growthVerdict(noHalves.rows[0], bar), 'below');
    const halves: MemDiffResult = { ...diff, totals: heap, rows: [row('app.Session', 400_000, 190_000), row('dict', 2_600_000, 2_600_000), row('str', 50_000, 20_000), row('tuple', -3_000_000, -3_000_000)] };
    const hb = growthBar(halves);
    assert.deepEqual({ ...hb, sizes: undefined }, { heapBytes: 100_000_000, bytes: 100_000, by: 'heap', halves: true, sizes: undefined });
    assert.deepEqual(halves.rows.map((r) => growthVerdict(r, hb)), ['grows', 'once', 'below', 'below']);
  });

  it('what instances own counts as far as the owned types grew in the heap (another holder letting go is not growth)', () => {
    const product = { type: 'app.Product', count: 0, size: 0, sizeText: '', sizeApprox: false, owned: 350_000, growth: 350_000, ownsEach: { str: 3, float: 1 },
      firstHalf: { count: 0, size: 0, growth: 170_000 } };
    const shared: MemDiffResult = { ...diff, totals: heap, rows: [product, row('str', 1_000), row('float', 500)] };
    assert.equal(backedGrowth(product, growthBar(shared)), 0);
    assert.equal(growthVerdict(product, growthBar(shared)), 'below');
    // No new instances and only scalars owned: the heap's str and float churn is not theirs (steady_service).
    const churning: MemDiffResult = { ...diff, totals: heap, rows: [product, row('str', 300_000), row('float', 200_000)] };
    assert.equal(backedGrowth(product, growthBar(churning)), 0);
    assert.equal(growthVerdict(product, growthBar(churning)), 'below');
    // New instances, each with its str and float: growth.
    const born = { ...product, count: 2_000, size: 100_000, growth: 450_000 };
    const leaking: MemDiffResult = { ...diff, totals: heap, rows: [born, row('str', 300_000), row('float', 200_000)] };
    assert.equal(backedGrowth(born, growthBar(leaking)), 450_000);
    assert.equal(growthVerdict(born, growthBar(leaking)), 'grows');
    // The same instances, each keeping a list it appends to: growth.
    const hoarding = { ...product, ownsEach: { list: 1, float: 40 } };
    const appending: MemDiffResult = { ...diff, totals: heap, rows: [hoarding, row('list', 150_000), row('float', 200_000)] };
    assert.equal(backedGrowth(hoarding, growthBar(appending)), 150_000);
  });

  it('a cache grows when unbounded and growing in both halves', () => {
    const c = diff.caches![0];
    assert.equal(cacheGrows(c, 10), true);
    assert.equal(cacheGrows({ ...c, firstHalfGrown: 3900 }, 10), false);
    assert.equal(cacheGrows({ ...c, firstHalfGrown: 2100 }, 10), true);
    assert.equal(cacheGrows({ ...c, maxsize: 128 }, 10), false);
  });

  it('the verdict when nothing grows: RSS, the bar, what came closest, what was up at one census only, and how to look for slower leaks', () => {
    const steady: MemDiffResult = { ...diff, totals: heap, caches: [], containers: [], rows: [row('app.Request', 15_000, -3_000), row('tuple', 4_700, 2_000), row('dict', 2_600_000, 2_600_000)] };
    const f = steadyFinding(4242, steady, growthBar(steady), { before: 50 * 2 ** 20, after: 50 * 2 ** 20 + 40_000, grown: 40_000, seconds: 9.5 }, false);
    assert.equal(f.title, 'No leak found in 10 s: RSS steady at 50 MB (+0.0 MB), no type grew steadily by more than 97.7 KB (0.1 % of the heap)');
    assert.equal(f.severity, 'info');
    assert.ok(f.evidence.includes('Below the bar: app.Request +14.6 KB, tuple +4.6 KB.'), f.evidence.join('\n'));
    assert.ok(f.evidence.some((e) => e.startsWith('Up at one census, not in both halves') && e.includes('dict +2.5 MB (+2.5 MB in the first half)')), f.evidence.join('\n'));
    assert.match(f.next_steps[0], /^A leak slower than 9\.8 KB\/s \(34\.3 MB\/hour\) does not show in 10 s: diff over a longer interval, `pyflight mem diff 4242 --interval 60`/);
    const rose = steadyFinding(4242, steady, growthBar(steady), { before: 50 * 2 ** 20, after: 60 * 2 ** 20, grown: 10 * 2 ** 20, seconds: 9.5 }, false);
    assert.equal(rose.title, 'No Python object type grew in 10 s, but RSS rose by 10.0 MB to 60 MB');
    const fresh = steadyFinding(4242, steady, growthBar(steady), { before: 50 * 2 ** 20, after: 60 * 2 ** 20, grown: 10 * 2 ** 20, seconds: 9.5 }, true);
    assert.match(fresh.title, /^No leak found in 10 s: RSS 50 → 60 MB \(the agent starting\), /);
  });
});
