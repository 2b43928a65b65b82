// "All workers" of a real gunicorn master (issue 7): from the process picker, one session per
// worker grouped under the master in the Sessions view; a worker the master forks later joins.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGunicorn, until, workersOf } from './lib/gunicorn.mjs';
import { launchWorkbench } from './lib/workbench.mjs';

let wb;
let master;




before(async () => {
  master = await startGunicorn(2);
  wb = await launchWorkbench('workers');
});
after(async () => {
  await wb?.close();
  master?.stop();
});

test('Attach to All Workers from the picker: the workers grouped under the master; a new worker joins', async () => {
  await wb.step('all-workers', async () => {
    await wb.openView('PyFlight');
    await wb.runCommand('PyFlight: Attach to Process…');
    await wb.quickPickSelect('All 2 workers of this gunicorn master', { type: String(master.pid) });
    const group = wb.treeRow('Sessions', new RegExp(`gunicorn master \\(pid ${master.pid}\\)\\s*2 workers · read-only · new workers join`));
    await group.waitFor({ timeout: 30000 });
    const [first, second] = workersOf(master.pid);
    for (const pid of [first, second]) await wb.treeRow('Sessions', new RegExp(`\\(pid ${pid}\\)\\s*attached · read-only`)).waitFor();
    await wb.screenshot('group');

    process.kill(first, 'SIGKILL'); // gunicorn forks a replacement, which joins the group by itself
    const replacement = await until('a replacement worker', () => workersOf(master.pid).find((w) => w !== first && w !== second));
    await wb.treeRow('Sessions', new RegExp(`\\(pid ${replacement}\\)\\s*attached · read-only`)).waitFor({ timeout: 30000 });
    await wb.screenshot('group-joined');
    // A joining worker is shown at the top level while it attaches, then moves under its group: the tree
    // once refused the move ("Element with id session-… is already registered", a toast, a stale view).
    assert.deepEqual(wb.console.filter((m) => /already registered/.test(m)), []);
    assert.ok(!(await wb.notifications()).some((t) => /already registered/.test(t)));

    // Watch one function on all workers: one row, every worker's calls merged with a worker column.
    await wb.openFile('web/flask_app.py');
    await wb.editorContextMenu(15, 'PyFlight: Watch This Function'); // inside compute_report()
    await wb.quickPickSelect('All 2 workers of gunicorn master', { type: false });
    await wb.quickInput.getByText('in all 2 workers of gunicorn master').waitFor();
    await wb.quickInputEnter('flask_app compute_report -n 100');
    await wb.openView('PyFlight');
    const watchRow = wb.treeRow('Watch', /flask_app\.compute_report · all workers/);
    await watchRow.waitFor({ timeout: 30000 });
    await wb.treeRow('Watch', /2 workers, 2 live/).waitFor({ timeout: 30000 });
    for (let i = 0; i < 10; i++) await Promise.all([master.get('/work'), master.get('/work'), master.get('/work')]);
    await wb.treeRow('Watch', /worker \d+ · [\d.]+ ms · compute_report\(n=200000\) → \d+/).waitFor({ timeout: 30000 });
    await wb.screenshot('watch-all-workers');
    // The row re-renders with every record that streams in, which can swallow a click: Stop again then.
    await wb.treeRowActionUntil('Watch', /flask_app\.compute_report · all workers/, 'Stop',
      (timeout) => wb.treeRow('Watch', /2 workers · \d+ calls/).waitFor({ timeout }));

    await wb.treeRowAction('Sessions', `gunicorn master (pid ${master.pid})`, 'Detach All Workers');
    await group.waitFor({ state: 'detached', timeout: 15000 });
    assert.ok(workersOf(master.pid).length === 2, 'the server keeps running');
  });
});
