import assert from 'node:assert/strict';
import { cacheText, censusProgressText, diffReport, ownsEachText, rankedRows, statsText } from '../../src/memory/census';
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
});
