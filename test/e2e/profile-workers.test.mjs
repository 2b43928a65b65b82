// Record CPU Profile of All Workers… on a real gunicorn master (issue 8): every worker profiled in
// parallel, one merged flame graph, and a per-worker filter (all / worker N) in the webview.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGunicorn, until, workersOf } from './lib/gunicorn.mjs';
import { launchWorkbench } from './lib/workbench.mjs';

let wb;
let master;
let loading = false;




before(async () => {
  master = await startGunicorn(2);
  wb = await launchWorkbench('profile-workers');
});
after(async () => {
  loading = false;
  await wb?.close();
  master?.stop();
});

test('Record CPU Profile of All Workers…: one merged graph, filtered by worker', async () => {
  await wb.step('workers-profile', async () => {
    await wb.openView('PyFlight');
    await wb.runCommand('PyFlight: Attach to Process…');
    await wb.quickPickSelect('All 2 workers of this gunicorn master', { type: String(master.pid) });
    const groupText = `gunicorn master (pid ${master.pid})`;
    await wb.treeRow('Sessions', new RegExp(`gunicorn master \\(pid ${master.pid}\\)\\s*2 workers`)).waitFor({ timeout: 30000 });
    const [first, second] = workersOf(master.pid);

    // Both sync workers busy in compute_report (concurrent requests) while they are profiled.
    loading = true;
    void (async () => { while (loading) await Promise.all(Array.from({ length: 4 }, () => master.get('/work'))); })();
    await wb.treeRowContextMenu('Sessions', groupText, 'Record CPU Profile of All Workers…');
    await wb.quickPickSelect('Until I stop it');
    await wb.quickInputRows().filter({ hasText: 'Native frames' }).waitFor();
    await wb.page.keyboard.press('Enter');
    const view = wb.webview();
    await view.locator('.status', { hasText: /^([2-9]\d\d|\d{4,}) samples · recording…/ }).waitFor({ timeout: 30000 });
    await wb.clickNotificationButton('PyFlight: profiling 2 workers', 'Cancel');
    await view.locator('.status', { hasText: /^\d+ samples$/ }).waitFor({ timeout: 30000 });
    loading = false;

    const select = view.locator('.worker-select');
    const options = await select.locator('option').allInnerTexts();
    assert.equal(options[0], 'all 2 workers');
    assert.match(options[1], new RegExp(`^worker ${first} · [1-9]\\d* samples$`));
    assert.match(options[2], new RegExp(`^worker ${second} · [1-9]\\d* samples$`));
    const total = Number(/^(\d+)/.exec(await view.locator('.status').innerText())[1]);
    const firstSamples = Number(/· (\d+) samples/.exec(options[1])[1]);
    const secondSamples = Number(/· (\d+) samples/.exec(options[2])[1]);
    assert.equal(total, firstSamples + secondSamples, 'the merged graph has both workers\' samples');
    assert.match(await view.locator('.hot tr').nth(1).innerText(), /compute_report/);
    await wb.screenshot('merged');

    await select.selectOption(String(second));
    await view.locator('.status', { hasText: new RegExp(`^${secondSamples} samples$`) }).waitFor();
    assert.match(await view.locator('.hot tr').nth(1).innerText(), /compute_report/);
    await wb.screenshot('one-worker');

    // Kept under the group in the Sessions view.
    await wb.treeRow('Sessions', /CPU profile of 2 workers · \d\d:\d\d:\d\d · [\d,]+ samples/).waitFor({ timeout: 15000 });
    await wb.screenshot('sessions');
  });
});
