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
