import assert from 'node:assert/strict';
import { Emitter } from '../../src/common/event';
import { ProbeStore } from '../../src/probes/probeStore';
import type { WatchRecord } from '../../src/protocol/helper';
import { Probe } from '../../src/session/probe';
import type { Session } from '../../src/session/session';

const session = { pid: 42 } as Session; // the store only keeps it for the views

function watchRecord(costMs: number): WatchRecord {
  return { time: 0, costMs, isException: false, exception: null, expr: null, type: null, value: null, expressionError: null,
    filterError: null, method: 'm.f' };
}

/** The store hears of probes from the sessions (SessionManager.onDidStartProbe), not from commands. */
describe('ProbeStore follows probe starts', () => {
  it('keeps a probe announced by the manager, with its records, its source and its kind', async () => {
    const starts = new Emitter<{ session: Session; probe: Probe }>();
    const store = new ProbeStore(() => 2, 0);
    const following = store.follow({ onDidStartProbe: starts.event });
    const probe = new Probe(42, 'watch', { module: 'm', method: 'f' }, { file: '/srv/m.py', line: 3 });
    probe.done = new Promise(() => undefined);
    starts.fire({ session, probe: probe.anyKind });
    for (const cost of [1, 5, 2]) probe.recorded(watchRecord(cost));
    const entry = store.entryOf(probe);
    assert.ok(entry);
    assert.deepEqual(entry.records.map((r) => r.costMs), [2, 5], 'newest first, capped');
    assert.equal(entry.dropped, 1);
    assert.deepEqual([entry.lastCostMs, entry.maxCostMs], [2, 5]);
    assert.deepEqual(entry.source, { file: '/srv/m.py', line: 3 });
    assert.deepEqual(store.of('watch'), [entry]);
    assert.deepEqual([store.of('trace').length, store.of('ttRecord').length], [0, 0]);
    assert.equal(store.add(session, probe), entry, 'a probe is kept once');

    following.dispose();
    starts.fire({ session, probe: new Probe(42, 'trace', { module: 'm', method: 'f' }).anyKind });
    assert.equal(store.all.length, 1, 'not after dispose');
    store.dispose();
  });
});
