import assert from 'node:assert/strict';
import { mergeWindows, nextWindowSeconds, watchSecondsFor } from '../../src/diagnose/adaptiveWindow';
import type { ExceptionEntry, ExceptionWindowResult } from '../../src/protocol/helper';

const entry = (type: string, count: number, thread = 't'): ExceptionEntry => ({ file: '/a.py', function: 'parse', firstLine: 1, type, typeModule: 'builtins',
  mro: [type], count, samples: [{ message: 'm', line: 3, raisedIn: { file: '/a.py', function: 'parse', line: 3 }, args: '', thread }],
  handlers: [{ file: '/a.py', function: 'handle', line: 9, count, caught: true, clause: 'except Exception:', clauseLine: 10, broad: true, reraises: false }],
  threads: { [thread]: count } });
const windowOf = (seconds: number, exceptions: ExceptionEntry[], stillTraced: string[] = []): ExceptionWindowResult => ({ seconds, startedAt: 0, endedAt: seconds * 1000,
  stopReason: 'time', events: exceptions.reduce((n, e) => n + e.count, 0), maxEvents: 5000, dropped: 0, tracedThreads: ['t'], skippedThreads: [],
  exceptions, stillTraced, cancelled: false });

describe('adaptive windows: a window adapts to the event rate it measured (issue 20, item 7)', () => {
  it('a second window only when the first saw too few events, as long as the rate says, within what is left', () => {
    assert.equal(nextWindowSeconds(40, 3, 5), 0, 'enough events');
    assert.equal(nextWindowSeconds(2, 3, 5), 5, '2 in 3 s: 3 more take 4.5 s → 5');
    assert.equal(nextWindowSeconds(4, 2, 5), 1, '4 in 2 s: 1 more takes 0.5 s → at least 1');
    assert.equal(nextWindowSeconds(1, 3, 4), 4, 'at most what is left');
    assert.equal(nextWindowSeconds(0, 2, 10), 4, 'nothing seen: twice the first window');
    assert.equal(nextWindowSeconds(0, 3, 0.5), 0, 'no time left');
  });

  it('watch -e lasts as long as the top exception\'s rate says three calls take, within bounds', () => {
    assert.equal(watchSecondsFor(300, 3, 3, 1, 8), 1);
    assert.equal(watchSecondsFor(3, 3, 3, 1, 8), 6);
    assert.equal(watchSecondsFor(1, 3, 3, 1, 8), 8);
    assert.equal(watchSecondsFor(0, 3, 3, 1, 8), 8);
  });

  it('merges two windows: counts, handlers and threads summed, new types added, the last window\'s leftovers', () => {
    const merged = mergeWindows(windowOf(3, [entry('ValueError', 2)]), windowOf(4, [entry('ValueError', 3, 'u'), entry('KeyError', 9)], ['other']));
    assert.equal(merged.seconds, 7);
    assert.equal(merged.events, 14);
    assert.deepEqual(merged.exceptions.map((e) => [e.type, e.count]), [['KeyError', 9], ['ValueError', 5]]);
    const value = merged.exceptions[1];
    assert.equal(value.handlers.length, 1);
    assert.equal(value.handlers[0].count, 5);
    assert.deepEqual(value.threads, { t: 2, u: 3 });
    assert.equal(value.samples.length, 2);
    assert.deepEqual(merged.stillTraced, ['other']);
  });
});
