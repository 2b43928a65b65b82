import './fakeTreeVscode';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ProbeEntry } from '../../../src/probes/probeStore';
import type { TtDetail, TtRecord } from '../../../src/protocol/helper';
import { TimeTunnelView, type TtNode } from '../../../src/views/timeTunnelView';
import type { TreeItem } from './fakeTreeVscode';

const RECORDED = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'recorded');
/** A replay of Flask's view dispatch on a gunicorn worker, as the helper answered it (see test/unit/ttText.test.ts). */
const flask = JSON.parse(readFileSync(path.join(RECORDED, 'tt-flask-replay.json'), 'utf8')) as {
  record: Array<{ type: string; data: TtRecord }>; show1000: TtDetail; replay1000: TtDetail;
};

describe('Time Tunnel view: a replay of a Flask view that raised outside its request context', () => {
  const call = flask.record[0].data;
  // The view asks the session for the call's details: it answers what the helper answered.
  const session = { pid: 4242, startedAt: 1, call: async (method: string) => (method === 'ttDetail' ? flask.show1000 : assert.fail(method)) };
  const entry = { session, probe: { id: 1, method: 'ttRecord' }, records: [call], source: undefined } as unknown as ProbeEntry<'ttRecord'>;
  const store = { onDidChange: () => ({ dispose() {} }), of: () => [entry] } as never;
  const view = new TimeTunnelView(store);
  view.addReplay(entry, call.index, flask.replay1000);
  const item = (node: TtNode) => view.getTreeItem(node) as unknown as TreeItem;
  const recordNode: TtNode = { kind: 'record', entry, record: call, key: 'tt1/1000' };

  it('the replay sits under the call it re-ran, labelled as its replay, with what it raised on one line', async () => {
    const children = await view.getChildren(recordNode);
    assert.deepEqual(children.map((c) => item(c).label), ['args', 'kwargs', 'returned', 'replay of #1000']);
    const replay = item(children[3]);
    assert.equal(replay.description, '#1001 · 0.018 ms · raised RuntimeError: Working outside of request context. This typically ' +
      'means that you attempted to use functionality that needed an active HTTP request. Consult the documentation on testing for ' +
      'information about how to avoid this problem.');
    assert.match(replay.tooltip!, /Flask/);
  });

  it('its children: the values as Python, what it raised (the traceback below it), and the hint', async () => {
    const [, , , replayNode] = await view.getChildren(recordNode);
    const children = await view.getChildren(replayNode);
    assert.deepEqual(children.map((c) => [item(c).label, item(c).description]), [
      ['args', '()'],
      ['kwargs', '{}'],
      ['raised RuntimeError', flask.replay1000.exceptionLine],
      [flask.replay1000.hint, undefined],
    ]);
    const traceback = (await view.getChildren(children[2])).map((c) => item(c).label.replace(/\u00a0/g, ' '));
    assert.equal(traceback[0], 'Traceback (most recent call last):');
    assert.match(traceback[1], /^ {2}File ".*flask\/app\.py", line \d+, in dispatch_request$/);
    assert.equal(traceback.at(-1), 'information about how to avoid this problem.');
  });
});
