import assert from 'node:assert/strict';
import { classLocation, compareSummaries, diffRows, formatBytes, instancesCommand, isDiffBookkeeping, memTable, toCsv, topGrowers } from '../../src/memory/memModel';
import type { MemDiffResult, MemRow, MemSummaryResult } from '../../src/protocol/helper';

const row = (type: string, count: number, size: number, sizeApprox = size > 1024): MemRow => ({ type, count, size, sizeText: String(size), sizeApprox });
const summary = (rows: MemRow[], capturedAt = 1): MemSummaryResult => ({ kind: 'summary', capturedAt, limit: 20, order: 'descending', rows, args: 'summary --limit 20' });

describe('memory model', () => {
  it('compares two summaries by type: deltas, biggest growth first, types seen in one only marked partial', () => {
    const earlier = summary([row('str', 100, 5000), row('dict', 10, 2000), row('tuple', 4, 200)]);
    const later = summary([row('__main__.Leak', 50, 800_000), row('str', 120, 6000), row('dict', 10, 1500)], 2);
    assert.deepEqual(compareSummaries(earlier, later), [
      { type: '__main__.Leak', count: 50, size: 800_000, sizeApprox: true, partial: true },
      { type: 'str', count: 20, size: 1000, sizeApprox: true },
      { type: 'tuple', count: -4, size: -200, sizeApprox: false, partial: true },
      { type: 'dict', count: 0, size: -500, sizeApprox: true },
    ]);
  });

  it('top growers are the types whose size grew, biggest first; list and str are flagged as pympler bookkeeping in a diff', () => {
    const diff: MemDiffResult = { kind: 'diff', capturedAt: 1, endedAt: 2, intervalSeconds: 3, limit: 5, order: 'descending', args: '',
      rows: [row('list', 3626, 764_314), row('__main__.LeakyCacheEntry', 79, 1_300_234), row('dict', 0, -128, false), row('str', 3624, 259_307)] };
    assert.deepEqual(topGrowers(diffRows(diff), 2).map((r) => r.type), ['__main__.LeakyCacheEntry', 'list']);
    assert.equal(topGrowers(diffRows(diff)).length, 3);
    assert.ok(isDiffBookkeeping('list') && isDiffBookkeeping('str') && !isDiffBookkeeping('dict'));
  });

  it('CSV: quoted where needed, formulas defused, numbers as numbers', () => {
    const csv = toCsv([row('function (a, "b")', 2, 272, false), row('=HYPERLINK("x")', -1, -5120, true)], true);
    assert.equal(csv, 'type,count_delta,size_delta_bytes,size_approx,partial\r\n'
      + '"function (a, ""b"")",2,272,false,false\r\n'
      + '"\'=HYPERLINK(""x"")",-1,-5120,true,false\r\n');
    assert.match(toCsv([row('str', 1, 2)], false), /^type,count,size_bytes,size_approx\r\nstr,1,2,false\r\n$/);
  });

  it('sizes and the CLI table', () => {
    assert.equal(formatBytes(12), '12 B');
    assert.equal(formatBytes(1536, true), '+1.5 KB');
    assert.equal(formatBytes(-3 * 1024 * 1024), '-3.0 MB');
    assert.equal(formatBytes(300 * 1024), '300 KB');
    assert.deepEqual(memTable([row('__main__.Leak', 79, 1_300_234), row('dict', 0, -128, false)], true), [
      '  Δ objects    Δ size  type',
      '        +79  ~+1.2 MB  __main__.Leak',
      '          0    -128 B  dict',
    ]);
  });

  it('says where the instances of a class are listed; not for pympler pseudo-types', () => {
    assert.deepEqual(classLocation('__main__.LeakyCacheEntry'), { module: '__main__', class: 'LeakyCacheEntry' });
    assert.deepEqual(classLocation('dict'), { module: 'builtins', class: 'dict' });
    assert.deepEqual(classLocation('weakref.ReferenceType'), { module: 'weakref', class: 'ReferenceType' });
    assert.equal(classLocation('function (handle)'), undefined);
    assert.equal(classLocation('module(os)'), undefined);
    assert.equal(classLocation('x; rm -rf /'), undefined);
    const cmd = instancesCommand('shop.cache.Entry', 4321)!;
    assert.equal(instancesCommand('dict', 4321), undefined, 'vmtool never finds instances of built-in types');
    assert.deepEqual(cmd, { module: 'shop.cache', class: 'Entry', cli: 'pyflight vmtool 4321 getInstances -c shop.cache Entry -n 10' });
  });
});
