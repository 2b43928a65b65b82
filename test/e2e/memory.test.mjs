// Memory (issues 8 and 19) in the real workbench: Memory Diff… (two censuses) on a leaking target
// shows the growing class first in the table (ranked by what the user owns, full type names) and the
// growers chart, columns sort, one click lists a growing type's live instances (Values view),
// cancelling a diff returns at once and nothing stays in the process, summaries from the Sessions
// view's context menu can be compared; light and dark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

const LEAK = '__main__.LeakyCacheEntry';
let wb;
let target;

before(async () => {
  target = await startTarget('leaky_service.py');
  wb = await launchWorkbench('memory');
  await wb.executeCommand('pyflight.attach', target.pid);
});
after(async () => {
  await wb?.close();
  stopTargets();
});

/** The numbers of one column of the table, as shown ("+3,624", "~+1.2 MB" → sign and digits only for counts). */
async function counts(view) {
  const cells = await view.locator('table.types tr td.num:nth-of-type(2)').allInnerTexts();
  return cells.map((c) => Number(c.replace(/[^\d-]/g, '')));
}

test('Memory Diff names the leaking class first; sorting; instances; cancel; summaries compared; light and dark (toggled)', async () => {
  await wb.step('diff', async () => {
    await wb.runCommand('PyFlight: Memory Diff…');
    await wb.quickInputEnter('3');
    const view = wb.webview();
    await view.locator('.caption', { hasText: /What changed in 3 s/ }).waitFor({ timeout: 60000 });
    const firstRow = view.locator('table.types tr').nth(1);
    assert.equal(await firstRow.locator('td.name span').first().innerText(), LEAK);
    assert.equal(await view.locator('.bar-row .bar-name').first().innerText(), LEAK);
    assert.equal(await view.locator('th[aria-sort="descending"] .sort').innerText(), 'Δ owned ▼');
    // The named container that keeps them, under the class's name.
    assert.equal(await firstRow.locator('td.name .held').innerText(), 'held by __main__.SESSION_CACHE');
    // A class whose name is HTML (leaky_service.HostileName) is shown as text, whole, and no script runs.
    await view.locator('table.types td.name', { hasText: '__main__.<img src=x onerror=window.__pwned=1>' }).waitFor();
    assert.equal(await view.locator('img').count(), 0, 'target text became markup');
    assert.equal(await view.locator('body').evaluate(() => window.__pwned), undefined, 'a script from the target ran');
    const csp = await view.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-[^']+'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await wb.screenshot('diff-light');
  });

  await wb.step('sort', async () => {
    const view = wb.webview();
    await view.locator('th .sort', { hasText: 'Δ objects' }).click();
    await view.locator('th[aria-sort="descending"] .sort', { hasText: 'Δ objects ▼' }).waitFor();
    const down = await counts(view);
    assert.deepEqual(down, [...down].sort((a, b) => b - a), `not sorted by count: ${down}`);
    await view.locator('th .sort', { hasText: 'Δ objects' }).click();
    await view.locator('th[aria-sort="ascending"] .sort', { hasText: 'Δ objects ▲' }).waitFor();
    const up = await counts(view);
    assert.deepEqual(up, [...up].sort((a, b) => a - b), `not sorted ascending: ${up}`);
    await view.locator('th .sort', { hasText: /^type/ }).click();
    const types = await view.locator('table.types td.name > span.type').allInnerTexts();
    assert.deepEqual(types, [...types].sort((a, b) => a.localeCompare(b)));
    await view.locator('th .sort', { hasText: 'Δ size' }).click();
  });

  await wb.step('instances', async () => {
    // One click on a growing type lists its live instances in the Values view (vmtool getInstances).
    const view = wb.webview();
    await view.locator('table.types tr', { hasText: LEAK }).locator('button', { hasText: 'Instances' }).click();
    await view.locator('.instances code').first().filter({ hasText: new RegExp(`^pyflight vmtool ${target.pid} getInstances -c __main__ LeakyCacheEntry -n 10$`) }).waitFor();
    await wb.treeRow('Values', /LeakyCacheEntry\s*[\d,]+ live instances · __main__/).waitFor({ timeout: 30000 });
    await wb.treeRow('Values', /\[1\] LeakyCacheEntry\s*0x[0-9a-f]+/).waitFor();
    await wb.screenshot('instances-light');
  });

  await wb.step('csv', async () => {
    // code-server's save dialog is a quick input with the proposed path: Enter accepts it.
    await wb.webview().locator('button', { hasText: 'Save CSV…' }).click();
    await wb.quickInputBox.waitFor({ state: 'visible' });
    // The dialog shows the folder first, then fills in the proposed name.
    let proposed = '';
    for (let i = 0; i < 50 && !proposed.endsWith('.csv'); i++) {
      proposed = await wb.quickInputBox.inputValue();
      if (!proposed.endsWith('.csv')) await wb.page.waitForTimeout(100);
    }
    assert.match(proposed, new RegExp(`memory-${target.pid}-diff-\\d+\\.csv$`));
    await wb.page.keyboard.press('Enter');
    const file = join(env.ws, proposed.split('/').pop());
    for (let i = 0; i < 50 && !existsSync(file); i++) await wb.page.waitForTimeout(200);
    const lines = readFileSync(file, 'utf8').split('\r\n');
    assert.equal(lines[0], 'type,count_delta,size_delta_bytes,size_approx,partial');
    assert.ok(lines.some((l) => new RegExp(`^${LEAK.replace(/\./g, '\\.')},\\d+,\\d+,false,false$`).test(l)), lines.slice(0, 4).join('\n'));
  });

  await wb.step('cancel', async () => {
    await wb.runCommand('PyFlight: Memory Diff…');
    await wb.quickInputEnter('60');
    await wb.waitForNotification(/second census in \d+ s/, { timeout: 30000 });
    await wb.webview().locator('.busy', { hasText: /Diff over 60 s: second census in \d+ s/ }).waitFor();
    await wb.clickNotificationButton('PyFlight: memory diff', 'Cancel');
    await wb.waitForNotification(/Memory diff cancelled between its two censuses\./);
    await wb.webview().locator('.busy').waitFor({ state: 'hidden' });
    await wb.clearNotifications();
  });

  await wb.step('summaries from the Sessions view, compared', async () => {
    await wb.openView('PyFlight');
    await (await wb.revealTreeRow('Sessions', /leaky_service\.py/)).waitFor();
    await wb.treeRowContextMenu('Sessions', /leaky_service\.py/, 'Memory Summary');
    const view = wb.webview();
    await view.locator('.caption', { hasText: /^Summary at .*: the 30 biggest types$/ }).waitFor({ timeout: 60000 });
    assert.ok((await view.locator('table.types td.name').allInnerTexts()).some((t) => t.startsWith(LEAK)));
    await view.locator('button', { hasText: /^Summary$/ }).click();
    await view.locator('.compare').waitFor({ state: 'visible', timeout: 60000 });
    await view.locator('.compare button', { hasText: 'Compare' }).click();
    await view.locator('.caption', { hasText: /^Summary .* minus summary .*s apart\)$/ }).waitFor();
    assert.equal(await view.locator('.bar-row .bar-name').first().innerText(), LEAK);
    await wb.screenshot('compare-light');
  });

  await wb.step('dark theme', async () => {
    await wb.executeCommand('workbench.action.toggleLightDarkThemes');
    await wb.page.waitForTimeout(1000);
    const view = wb.webview();
    await view.locator('select[aria-label="Snapshot shown"]').selectOption({ index: 1 });
    await view.locator('.caption', { hasText: /What changed in 3 s/ }).waitFor();
    await wb.screenshot('diff-dark');
    await wb.executeCommand('workbench.action.toggleLightDarkThemes');
  });
});
