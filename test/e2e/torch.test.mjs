// PyTorch (issue 9) in the real workbench: right-click inside the model step of torch_service.py →
// Profile PyTorch Call… → the location is filled in → a notification waits for the call → the
// summary opens as a Markdown preview with the top operators; Memory Snapshot on a CPU-only
// process says it needs CUDA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

let wb;
let service;
before(async () => {
  service = await startTarget('torch_service.py');
  wb = await launchWorkbench('torch');
  await wb.executeCommand('pyflight.attach', service.pid);
});
after(async () => {
  await wb?.close();
  stopTargets();
});

test('right-click → Profile PyTorch Call… → summary with aten::addmm; memory snapshot needs CUDA', async () => {
  await wb.step('profile', async () => {
    await wb.openFile('torch_service.py');
    await wb.editorContextMenu(42, 'PyFlight: Profile PyTorch Call…'); // inside inference_step()
    await wb.quickInputBox.waitFor({ timeout: 30000 });
    for (let i = 0; i < 50 && !(await wb.quickInputBox.inputValue()); i++) await wb.page.waitForTimeout(100);
    assert.equal(await wb.quickInputBox.inputValue(), '__main__ inference_step');
    await wb.screenshot('location');
    await wb.page.keyboard.press('Enter');
    const preview = wb.webview();
    await preview.locator('td', { hasText: /^aten::addmm$/ }).first().waitFor({ timeout: 60000 });
    assert.equal(await preview.locator('h1').innerText(), 'torch profile of __main__ inference_step', 'target text is escaped, not markup');
    const mm = preview.locator('tr', { has: preview.locator('td', { hasText: /^aten::mm$/ }) });
    assert.match(await mm.innerText(), /\b12\b[\s\S]*\[64, 256\], \[256, 256\][\s\S]*score \(torch_service\.py:32\)/);
    const addmm = preview.locator('tr', { has: preview.locator('td', { hasText: /^aten::addmm$/ }) });
    assert.match(await addmm.innerText(), /TinyMLP › Linear/);
    await wb.waitForNotification(/torch profile of __main__ inference_step: torch-profile-\d+-/, { timeout: 15000 });
    await wb.screenshot('summary');
  });

  await wb.step('timeline', async () => {
    await wb.clickNotificationButton(/torch profile of __main__ inference_step: torch-profile-/, 'Open Timeline');
    const view = wb.webview();
    const addmm = view.locator('.bar', { hasText: /^aten::addmm$/ }).first();
    await addmm.waitFor({ timeout: 20000 });
    assert.match(await view.locator('.caption').innerText(), /torch profile of __main__ inference_step — .*, 74 operators/);
    await addmm.click();
    assert.match(await view.locator('.details').innerText(), /aten::addmm · .* · in TinyMLP › Linear · from forward \(torch_service\.py:24\)/);
    const csp = await view.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await view.locator('button', { hasText: '+' }).click();
    await view.locator('.zoom', { hasText: '200%' }).waitFor();
    await wb.screenshot('timeline-light');
    await wb.executeCommand('workbench.action.toggleLightDarkThemes');
    await wb.page.waitForTimeout(1000);
    await wb.screenshot('timeline-dark');
    await wb.executeCommand('workbench.action.toggleLightDarkThemes');
  });

  await wb.step('memory', async () => {
    await wb.clearNotifications();
    await wb.runCommand('PyFlight: PyTorch Memory Snapshot');
    await wb.waitForNotification(/runs torch 2\.13\.0\+cpu without CUDA/, { timeout: 30000 });
    await wb.page.locator('.notification-toast-container', { hasText: /torch memory snapshot of .*preparing/ }).waitFor({ state: 'hidden' });
    await wb.screenshot('memory-no-cuda');
  });
});
