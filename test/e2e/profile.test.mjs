// Record CPU Profile… in the real workbench (issue 8): the flame graph fills in live, then the
// final one; hot functions, search with match count, click to source; light and dark. The target's
// file name is HTML with a script: every panel must show it as text, and no script may run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { env, launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

const HOSTILE = '<img src=x onerror=window.__pwned=1>.py';
let wb;
let target;

before(async () => {
  mkdirSync(join(env.ws, 'hostile'), { recursive: true });
  copyFileSync(join(env.ws, 'cpu_service.py'), join(env.ws, 'hostile', HOSTILE));
  target = await startTarget(join('hostile', HOSTILE));
  wb = await launchWorkbench('profile');
  await wb.executeCommand('pyflight.attach', target.pid);
});
after(async () => {
  await wb?.close();
  stopTargets();
});

test('a CPU profile renders live, then final; hot functions, search and click-to-source work; no script runs', async () => {
  await wb.step('flamegraph', async () => {
    await wb.runCommand('PyFlight: Record CPU Profile…');
    await wb.quickPickSelect('Until I stop it');
    await wb.quickInputRows().filter({ hasText: 'Native frames' }).waitFor();
    await wb.page.keyboard.press('Enter');
    const view = wb.webview();
    const status = view.locator('.status');
    await status.filter({ hasText: /\d+ samples · recording…/ }).waitFor({ timeout: 30000 });
    await wb.screenshot('flamegraph-live');
    // Stop after a few live updates: the notification's Cancel keeps what was sampled.
    await view.locator('.status', { hasText: /^([2-9]\d\d|\d{4,}) samples · recording…/ }).waitFor({ timeout: 30000 });
    await wb.clickNotificationButton('PyFlight: profiling', 'Cancel');
    await status.filter({ hasText: /^\d+ samples$/ }).waitFor({ timeout: 30000 });

    const firstHot = view.locator('.hot tr').nth(1);
    assert.match(await firstHot.innerText(), /score_order/);
    assert.match(await firstHot.getAttribute('title'), /<img src=x onerror=window\.__pwned=1>\.py:\d+/, 'the path shown as text');
    // No "calls" column: sampling cannot count calls. The samples column and its note say what is shown.
    assert.deepEqual(await view.locator('.hot th').allInnerTexts(), ['function', 'self', 'total', 'samples']);
    assert.match(await firstHot.locator('td').nth(3).innerText(), /^[1-9][\d,]*$/);
    assert.match(await view.locator('.hot-note').innerText(), /cannot count calls; to count them, watch or trace/);
    await view.locator('.search').fill('score_order');
    await view.locator('.match-info', { hasText: /^\d+ match(es)? · \d+(\.\d)?% of samples$/ }).waitFor();
    await wb.screenshot('flamegraph-final');

    assert.equal(await view.locator('body').evaluate(() => window.__pwned), undefined, 'a script from the target ran');
    assert.equal(await view.locator('img').count(), 0, 'target text became markup');
    const csp = await view.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-[^']+'(;|$)/, 'scripts only with the nonce');
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.doesNotMatch(csp, /connect-src|frame-src/, 'no network from the webview');

    await firstHot.click();
    await wb.activeEditorTab(HOSTILE).waitFor({ timeout: 15000 });

    await wb.executeCommand('workbench.action.toggleLightDarkThemes');
    await wb.page.waitForTimeout(1000);
    await wb.executeCommand('workbench.action.previousEditor');
    await view.locator('.status').waitFor();
    await wb.screenshot('flamegraph-other-theme');
    await wb.executeCommand('workbench.action.toggleLightDarkThemes');
  });
});

test('kept profiles are listed under the session; the editor shows per-line CPU; Compare shows a differential flame graph', async () => {
  await wb.step('profile-editor', async () => {
    // The profile of the first test is kept under its session: "CPU profile · 12:03:44 · 312 samples · 4 s".
    await wb.openView('PyFlight');
    const rowText = /^CPU profile · \d\d:\d\d:\d\d · [\d,]+ samples · [\d.]+ s$/;
    const sessionRow = wb.treeRow('Sessions', `(pid ${target.pid})`);
    await sessionRow.waitFor();
    if ((await sessionRow.getAttribute('aria-expanded')) === 'false') await sessionRow.locator('.monaco-tl-twistie').click();
    const profileRow = wb.treeRow('Sessions', /CPU profile · \d\d:\d\d:\d\d/);
    await profileRow.waitFor({ timeout: 15000 });
    assert.match((await profileRow.innerText()).trim(), rowText);

    // The profiled file: end-of-line hints ("▮▮▮▮ 68% self") on the hot lines, a CodeLens on score_order.
    await wb.openFile(`hostile/${HOSTILE}`);
    const editor = wb.page.locator('.editor-group-container.active .monaco-editor');
    const lens = editor.locator('.contentWidgets .codelens-decoration a', { hasText: /^\d+(\.\d)?% of CPU .*· open flame graph$/ }).first();
    await lens.waitFor({ timeout: 15000 });
    const hints = async () => editor.locator('.view-lines').evaluate((root) => [...root.querySelectorAll('span')]
      .map((s) => getComputedStyle(s, '::after').content).filter((c) => c && c !== 'none' && c !== 'normal'));
    let shown = [];
    for (let i = 0; i < 50 && !shown.some((c) => /% self/.test(c)); i++) { shown = await hints(); await wb.page.waitForTimeout(200); }
    assert.ok(shown.some((c) => /▮+ \d+(\.\d)?% self/.test(c)), `per-line hints: ${JSON.stringify(shown)}`);
    await wb.goToLine(21, 1);
    await wb.screenshot('editor-heat');
    await wb.executeCommand('workbench.action.toggleLightDarkThemes');
    await wb.page.waitForTimeout(800);
    await wb.screenshot('editor-heat-other-theme');
    await wb.executeCommand('workbench.action.toggleLightDarkThemes');

    // Off with one click (the status bar item), then on again.
    const item = wb.page.locator('.statusbar-item', { hasText: /CPU \d+ samples/ }).first();
    await item.click();
    await wb.page.locator('.statusbar-item', { hasText: 'CPU heat off' }).first().waitFor();
    await lens.waitFor({ state: 'detached', timeout: 15000 });
    await wb.page.locator('.statusbar-item', { hasText: 'CPU heat off' }).first().click();
    await lens.waitFor({ timeout: 15000 });
    await wb.openView('PyFlight');
    await wb.screenshot('sessions-profiles');

    // A second profile, then Compare CPU Profiles…: before = the first, after = the second.
    await wb.runCommand('PyFlight: Record CPU Profile…');
    await wb.quickPickSelect('Until I stop it');
    await wb.quickInputRows().filter({ hasText: 'Native frames' }).waitFor();
    await wb.page.keyboard.press('Enter');
    await wb.webview().locator('.status', { hasText: /^([1-9]\d\d|\d{4,}) samples · recording…/ }).waitFor({ timeout: 30000 });
    await wb.clickNotificationButton('PyFlight: profiling', 'Cancel');
    await wb.webview().locator('.status', { hasText: /^\d+ samples$/ }).waitFor({ timeout: 30000 });
    await wb.page.locator('.pane .monaco-list-row', { hasText: /CPU profile · / }).nth(1).waitFor({ timeout: 15000 });

    await wb.runCommand('PyFlight: Compare CPU Profiles…');
    await wb.quickInputRows().filter({ hasText: /CPU profile · / }).nth(1).waitFor();
    await wb.quickInputRows().filter({ hasText: /CPU profile · / }).nth(1).click(); // the older one: before
    await wb.quickInputRows().filter({ hasText: /2\/2|CPU profile · / }).first().waitFor();
    await wb.quickInputRows().filter({ hasText: /CPU profile · / }).first().click(); // the newer one: after
    const diff = wb.webview();
    await diff.locator('.status', { hasText: /^before \d+ · after \d+ samples$/ }).waitFor({ timeout: 15000 });
    assert.equal(await diff.locator('.hot th').nth(2).innerText(), 'change');
    assert.match(await diff.locator('.hot tr').nth(1).innerText(), /(±0|[+−]\d+\.\d pts)$/);
    assert.match(await diff.locator('.note').innerText(), /^Difference: .* → .*red grew, blue shrank/);
    // Hover the widest frame below the root: the tooltip has the change in points.
    const box = await diff.locator('canvas').boundingBox();
    await wb.page.mouse.move(box.x + box.width * 0.2, box.y + box.height - 18 - 9); // the tooltip then lies over the graph, not the table
    await diff.locator('.tooltip .tt-delta', { hasText: /→ .* of all \((±0|[+−]\d+\.\d pts)\)$/ }).waitFor({ timeout: 10000 });
    await wb.screenshot('profile-diff');
    assert.equal(await diff.locator('body').evaluate(() => window.__pwned), undefined, 'a script from the target ran');
  });
});
