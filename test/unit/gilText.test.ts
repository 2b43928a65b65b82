import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { gilstatParams } from '../../src/cli/gilstat';
import { parseArgs } from '../../src/cli/args';
import { alertText, gilEndText, gilReportLines, gilStatusText, topHolder, visibleThreads } from '../../src/gil/gilText';
import type { GilstatRecord, GilstatSummary } from '../../src/protocol/helper';

const RECORDED = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'gilstat');

/** What `pyflight gilstat <gil_hog.py pid> --duration 3 --interval 1 --json` printed in a real run. */
function recorded(): { reports: GilstatRecord[]; end: GilstatSummary } {
  const lines = readFileSync(path.join(RECORDED, 'cli-gil-hog.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return { reports: lines.filter((l) => l.type === 'record').map((l) => l.data), end: lines.at(-1).data };
}

describe('GIL report text (recorded from gil_hog.py)', () => {
  it('one block per report: the hog holds, the waiters wait, agent threads hidden', () => {
    const { reports } = recorded();
    assert.ok(reports.length >= 2);
    const lines = gilReportLines(reports[1]);
    assert.match(lines[0], /^report 2 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}, last \d+\.\d\d s: 51 alerts \(\d+ waits?, \d+ holds? over the thresholds; only the newest kept\)$/);
    assert.match(lines[1], /^ {2}gil-hog +held +[\d.]+ m?s \( ?\d+%\)  waited +[\d.]+ m?s \( *\d+%\)  \d+ takes$/);
    assert.ok(lines.slice(1).every((l) => !/flight-profiler-|gil_stat/.test(l)), lines.join('\n'));
    assert.ok(gilReportLines(reports[1], true).some((l) => /gil_stat|flight-profiler-/.test(l)));
  });

  it('the status bar names the top holder and the longest waiter, shares of at most 100%', () => {
    const { reports } = recorded();
    const text = gilStatusText(reports.at(-1));
    assert.match(text, /^GIL: gil-hog holds \d+% · gil-waiter-\d waits \d+%$/);
    for (const share of text.match(/\d+(?=%)/g)!) assert.ok(Number(share) <= 100);
    assert.equal(gilStatusText(undefined), 'GIL: measuring…');
    assert.equal(topHolder(reports[0])?.thread, 'gil-hog');
    assert.ok(visibleThreads(reports[0]).every((t) => !t.agent));
  });

  it('alerts in words, and the end line', () => {
    const { reports, end } = recorded();
    const wait = reports[0].alerts.find((a) => a.event === 'wait')!;
    assert.match(alertText(wait), /^(gil-waiter-\d|MainThread|python|gil-hog|gil_stat|flight-profiler-\S+) waited \d+\.\d ms for the GIL$/);
    assert.equal(alertText({ ...wait, event: 'hold', thread: 'gil-hog', ms: 52.25 }), 'gil-hog held the GIL for 52.3 ms');
    assert.equal(gilEndText(end), `gilstat off: ${end.count} reports, stopped`);
    assert.equal(gilEndText({ ...end, count: 1, reason: 'exited' }), 'gilstat off: 1 report, process exited');
  });

  it('pyflight gilstat options map onto the helper params', () => {
    assert.deepEqual(gilstatParams(parseArgs(['gilstat', '1', '--take', '5', '--hold', '20', '--interval', '2', '--max-threads', '50'])),
      { takeMs: 5, holdMs: 20, intervalSeconds: 2, maxThreads: 50 });
    assert.deepEqual(gilstatParams(parseArgs(['gilstat', '1', '--duration', '3'])), {});
    assert.throws(() => gilstatParams(parseArgs(['gilstat', '1', '--hold', '0'])), { code: 'BAD_ARGUMENT' });
    assert.throws(() => gilstatParams(parseArgs(['gilstat', '1', '--interval', '1.5'])), { code: 'BAD_ARGUMENT' });
  });
});

describe('GIL report text, sampled (recorded: gil_hog.py on a stripped libpython copy)', () => {
  const lines = readFileSync(path.join(RECORDED, 'cli-sampled-stripped.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const reports: GilstatRecord[] = lines.filter((l) => l.type === 'record').map((l) => l.data);

  it('says it is sampled, in how many samples each thread held the GIL, and no waits', () => {
    assert.ok(reports.length >= 2);
    assert.ok(reports.every((r) => r.measure === 'sampled' && r.alerts.length === 0 && /stripped interpreter/.test(r.why ?? '')));
    const text = gilReportLines(reports[0]);
    assert.match(text[0], /^report 1 at .*: sampled \(\d+ samples by py-spy; waits and alerts need the interceptor\)$/);
    assert.match(text[1], /^ {2}gil-hog +held the GIL in \d+ of \d+ samples \( *\d+%\)$/);
    assert.ok(text.every((l) => !/waited/.test(l)));
    assert.match(gilStatusText(reports[0]), /^GIL \(sampled\): gil-hog holds \d+%$/);
    assert.equal(lines.at(-1).data.measure, 'sampled');
  });
});
