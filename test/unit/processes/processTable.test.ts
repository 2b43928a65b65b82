import assert from 'node:assert/strict';
import { processTable } from '../../../src/cli/processTable';
import { listProcesses } from '../../../src/processes/processLister';
import { recordedProcSource } from './recorded';

describe('processes as a table (recorded /proc tree: gunicorn, uvicorn, celery)', () => {
  // Start of the recorded trees, see procfsParser.test.ts.
  const now = 1795640847490 + 5 * 60_000;

  it('groups each server master with its workers, as a tree, with pid, user, age and command', async () => {
    const processes = await listProcesses({ platform: 'linux', procSource: recordedProcSource(), selfPid: 0 });
    const lines = processTable(processes, { showAllProcesses: false, now }).split('\n');
    assert.match(lines[0], /^ +PID {2}USER +AGE {2}COMMAND$/);
    const at = lines.findIndex((l) => /^ +7988 /.test(l));
    assert.match(lines[at], /^ +7988 {2}\S+ +5m {3}\[gunicorn master\] gunicorn: master \[wsgi_app:app\]$/);
    assert.match(lines[at + 1], /^ *├ 7999 {2}\S+ +\d+m {3}\[gunicorn worker\] /);
    assert.match(lines[at + 2], /^ *└ 8003 {2}\S+ +\d+m {3}\[gunicorn worker\] /);
    assert.ok(lines.some((l) => /^ +7992 .*\[celery master\]/.test(l)));
    assert.ok(lines.some((l) => /^ +7991 .*\[uvicorn master\]/.test(l)));
    assert.ok(lines.some((l) => /^ +7994 .* python sleeper\.py$/.test(l)));
    assert.ok(!lines.some((l) => /sleep 3600/.test(l)), 'not Python: only with --all');
    const widths = new Set(lines.map((l) => l.indexOf('  ', l.search(/\S/))));
    assert.equal(widths.size, 1, 'one table: the PID column ends at the same place on every row');
  });

  it('--all adds the other processes under their own heading', async () => {
    const processes = await listProcesses({ platform: 'linux', procSource: recordedProcSource(), selfPid: 0 });
    const text = processTable(processes, { showAllProcesses: true, now });
    assert.match(text, /\n\nother processes \(not Python\):\n(.*\n)*.* sleep 3600/);
  });
});
