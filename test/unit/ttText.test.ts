import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ttDetailLines, ttLine, ttRaised } from '../../src/format/probeText';
import type { TtDetail, TtRecord } from '../../src/protocol/helper';

const RECORDED = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded');

/** `node dist/cli.js tt <worker> record flask.app Flask dispatch_request -n 1 / show 1000 / replay 1000 / list --json` on a gunicorn worker of flask_app.py (2026-11-26). */
const flask = JSON.parse(readFileSync(path.join(RECORDED, 'tt-flask-replay.json'), 'utf8')) as {
  show1000: TtDetail; replay1000: TtDetail; list: { records: TtRecord[] };
};

describe('tt text (recorded from a replay of Flask\'s view dispatch under gunicorn)', () => {
  it('a replay is listed as the replay of its call, not as one more captured call', () => {
    const [call, replay] = flask.list.records;
    assert.match(ttLine(call), /^#1000 {2}\d\d:\d\d:\d\d\.\d{3} +200 ms {2}returned {2}flask\.app\.Flask\.dispatch_request$/);
    assert.match(ttLine(replay), /^#1001 {2}\d\d:\d\d:\d\d\.\d{3} +[\d.]+ ms {2}raised {4}replay of #1000 {2}flask\.app\.Flask\.dispatch_request$/);
  });

  it('what a replay raised is one line, whole; the traceback follows, from the framework\'s code on', () => {
    const replay = flask.replay1000;
    assert.equal(ttRaised(replay), 'RuntimeError: Working outside of request context. This typically means that you attempted to use ' +
      'functionality that needed an active HTTP request. Consult the documentation on testing for information about how to avoid this problem.');
    const lines = ttDetailLines(replay);
    assert.equal(lines[0], 'index     #1001 (replay of #1000)');
    assert.equal(lines.find((l) => l.startsWith('raised')), `raised    ${ttRaised(replay)}`);
    const tb = lines.indexOf('traceback');
    assert.equal(lines[tb + 1], '          Traceback (most recent call last):');
    assert.match(lines[tb + 2], /^ {12}File ".*flask\/app\.py", line \d+, in dispatch_request$/);
    assert.ok(!lines.some((l) => l.startsWith('returned')));
    assert.match(replay.hint!, /Flask.*request context/s);
  });

  it('a call that returned shows its value as Python', () => {
    const lines = ttDetailLines(flask.show1000);
    assert.equal(lines[0], 'index     #1000');
    assert.ok(lines.includes("args      ()"));
    assert.ok(lines.includes("kwargs    {}"));
    assert.ok(lines.includes("returned  {'ok': True}"));
    assert.equal(ttRaised(flask.show1000), undefined);
  });
});
