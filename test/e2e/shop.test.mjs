// Issue 9 as a new user meets it, on a service the other flows do not use (shop_api_service.py):
// keyboard only, Inspect Value on a global right after a dataclass (it was taken for a class
// attribute); a string with a newline stays one row with its escapes; a list too long to print
// whole shows its elision and counts from the end after it; Evaluate's consent shows the code; a
// typo bug seen with Evaluate, fixed in the editor and hot-swapped with Reload; Evaluate again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

const source = readFileSync(join(env.ws, 'shop_api_service.py'), 'utf8').split('\n');
const lineOf = (text) => source.findIndex((l) => l.startsWith(text)) + 1;
let wb;
let service;

before(async () => {
  service = await startTarget('shop_api_service.py');
  wb = await launchWorkbench('shop');
  await wb.executeCommand('pyflight.attach', service.pid);
});
after(async () => {
  await wb?.close();
  stopTargets();
});

/** Keyboard only: Go to Line, then the palette. */
async function inspectAt(text) {
  await wb.goToLine(lineOf(text), 2);
  await wb.runCommand('PyFlight: Inspect Value');
}

test('Inspect Value, keyboard only: a global after a dataclass, a string with a newline, a long list', async () => {
  await wb.step('global after a class', async () => {
    await wb.openFile('shop_api_service.py');
    await inspectAt('CONFIG = ');
    await wb.treeRow('Values', /CONFIG\s*__main__\.AppConfig · __main__ · pid \d+/).waitFor({ timeout: 30000 });
    // One row, its newline, tab and zero-width space escaped; HTML stays text.
    await wb.treeRow('Values', /secret_banner\s*"<h1>Welcome<\/h1>\\n<script>alert\('x'\)<\/script>\\tTabbed\\u200b zero-width/).waitFor();
    assert.equal(await wb.view('Values').locator('.monaco-list-row', { hasText: /^\s*\[\d+\]\s*<script>/ }).count(), 0, 'the string was split into rows');
    assert.equal(await wb.view('Values').locator('.monaco-list-row h1, .monaco-list-row script').count(), 0, 'target text became markup');
  });

  await wb.step('long list', async () => {
    await inspectAt('ROWS = ');
    await wb.treeRow('Values', /ROWS\s*list · __main__/).waitFor({ timeout: 30000 });
    await wb.revealTreeRow('Values', /…\s*middle items not shown/);
    await (await wb.revealTreeRow('Values', /\[-1\]\s*249999/)).waitFor();
    assert.equal(await wb.view('Values').locator('.monaco-list-row', { hasText: /\[1[1-9]\]|\[20\]/ }).count(), 0, 'items after the elision numbered from the start');
    await wb.screenshot('long-list');
  });
});

test('Evaluate shows the code before it runs; a typo fixed with Reload; Evaluate sees the fix', async () => {
  await wb.step('evaluate the bug', async () => {
    await wb.runCommand('PyFlight: Evaluate in Process…');
    await wb.quickInputEnter('price_with_tax(10)');
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 20000 });
    const text = await dialog.innerText();
    assert.match(text, new RegExp(`Run code inside process ${service.pid}\\?\\s*price_with_tax\\(10\\)`));
    assert.match(text, new RegExp(`inside the live process shop_api_service\\.py \\(pid ${service.pid}\\):`));
    await wb.screenshot('evaluate-consent');
    await dialog.locator('.monaco-button', { hasText: /^Run in Process$/ }).click();
    await wb.waitForNotification(/Raised in process \d+: AttributeError: 'AppConfig' object has no attribute 'tax_rte'/, { timeout: 20000 });
    await wb.clearNotifications();
  });

  await wb.step('reload the fix', async () => {
    const line = lineOf('    return round(amount * (1 + CONFIG.tax_rte)');
    await wb.goToLine(line);
    await wb.page.keyboard.press('End');
    await wb.page.keyboard.press('Shift+Home');
    await wb.page.keyboard.type('return round(amount * (1 + CONFIG.tax_rate), 2)');
    await wb.editorContextMenu(line, 'PyFlight: Reload This Function in Process');
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 20000 });
    assert.match(await dialog.innerText(), new RegExp(`Reload __main__\\.price_with_tax in process ${service.pid}\\?`));
    await dialog.locator('.monaco-button', { hasText: /^Reload$/ }).click();
    await wb.waitForNotification(/Reloaded __main__\.price_with_tax in process \d+/, { timeout: 20000 });
    await wb.clearNotifications();
  });

  await wb.step('evaluate the fix', async () => {
    await wb.runCommand('PyFlight: Evaluate in Process…');
    await wb.quickInputEnter('price_with_tax(10)'); // asked once per process: no dialog now
    await wb.waitForNotification(/Process \d+: float: 12\.0/, { timeout: 20000 });
    await wb.screenshot('evaluate-fixed');
  });
});
