// Issue 9 (values and instances) in the real workbench: right-click a module global → PyFlight:
// Inspect Value → its tree in the Values view (expand, open as a document); a string with HTML in
// it stays text; hovering a global shows its live value; right-click a class → PyFlight: Show Live
// Instances → the count and each instance; Force GC asks first and says what it freed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

const source = readFileSync(join(env.ws, 'inspect_service.py'), 'utf8').split('\n');
const lineOf = (text) => source.findIndex((l) => l.startsWith(text)) + 1;
let wb;
let target;

before(async () => {
  target = await startTarget('inspect_service.py');
  wb = await launchWorkbench('inspect');
  await wb.executeCommand('pyflight.attach', target.pid);
});

/** Room for the Values view in screenshots: the Stacks and Watch panes folded. */
async function foldOtherViews() {
  for (const title of ['Stacks', 'Watch']) {
    const header = wb.view(title).locator('.pane-header');
    if ((await header.getAttribute('aria-expanded')) === 'true') await header.click();
  }
  await wb.page.mouse.move(900, 700);
  await wb.page.waitForTimeout(500); // the panes' resize animation
}
after(async () => {
  await wb?.close();
  stopTargets();
});

test('Inspect Value from right-click shows the value as a tree; HTML stays text; a document; a hover', async () => {
  await wb.step('inspect value', async () => {
    await wb.openFile('inspect_service.py');
    await wb.editorContextMenu(lineOf('CONFIG = '), 'PyFlight: Inspect Value');
    await wb.treeRow('Values', /CONFIG\s*dict · __main__ · pid \d+/).waitFor({ timeout: 30000 });
    await wb.treeRow('Values', /region\s*"eu-west"/).waitFor();
    await wb.expandTreeRow('Values', /limits\s*\{…\} 2 items/);
    await wb.treeRow('Values', /burst\s*\[1, 2, 3\]/).waitFor();
    await foldOtherViews();
    await wb.screenshot('value-tree');
  });

  await wb.step('html is text', async () => {
    await wb.editorContextMenu(lineOf('GREETING = '), 'PyFlight: Inspect Value');
    // The text as the target has it, in the row's description: shown as text, not markup.
    await wb.treeRow('Values', /GREETING\s*str = "Grüße <b>bold<\/b> & <script>alert\(1\)<\/script> — ✓"/).waitFor({ timeout: 20000 });
    assert.equal(await wb.view('Values').locator('.monaco-list-row b, .monaco-list-row script').count(), 0, 'target text became markup');
  });

  await wb.step('refresh and options', async () => {
    // A counter the target keeps increasing: Refresh reads it again.
    await wb.editorContextMenu(lineOf('REQUESTS_SERVED = '), 'PyFlight: Inspect Value');
    const counter = /REQUESTS_SERVED\s*int = (\d+)/;
    await wb.treeRow('Values', counter).waitFor({ timeout: 20000 });
    const first = Number(counter.exec(await wb.treeRow('Values', counter).innerText())[1]);
    await wb.page.waitForTimeout(300);
    await wb.treeRowAction('Values', counter, 'Refresh');
    let later = first;
    for (let i = 0; i < 50 && later === first; i++) {
      await wb.page.waitForTimeout(100);
      later = Number(counter.exec(await wb.treeRow('Values', counter).innerText())?.[1] ?? first);
    }
    assert.ok(later > first, `not re-read: ${first} → ${later}`);
    // Change Options…: -r shows repr() on the row itself.
    await wb.treeRowContextMenu('Values', /CONFIG\s*dict/, 'Change Options…');
    await wb.page.locator('.quick-input-widget', { hasText: 'PyFlight: options of __main__.CONFIG' }).waitFor();
    assert.equal(await wb.quickInputBox.inputValue(), '-x 2');
    await wb.quickInputEnter('-x 2 -r');
    await wb.treeRow('Values', /CONFIG\s*dict = \{'region': 'eu-west', 'limits': \{'orders': 3, 'burst'/).waitFor({ timeout: 20000 });
    await wb.treeRowContextMenu('Values', /CONFIG\s*dict/, 'Change Options…');
    await wb.quickInputEnter('-x 2');
    await wb.treeRow('Values', /region\s*"eu-west"/).waitFor({ timeout: 20000 });
  });

  await wb.step('a global from the palette', async () => {
    await wb.runCommand('PyFlight: Inspect a Global…');
    await wb.page.locator('.quick-input-widget', { hasText: 'PyFlight: Inspect a Global of process' }).waitFor();
    for (let i = 0; i < 50 && (await wb.quickInputBox.inputValue()) !== '__main__'; i++) await wb.page.waitForTimeout(100);
    await wb.quickInputEnter('__main__');
    const items = await wb.quickPickItems();
    assert.ok(items.some((t) => /OPEN_ORDERS\s*list · 3 items/.test(t)), items.join(' | '));
    assert.ok(items.some((t) => /Order\s*class/.test(t)), items.join(' | '));
    await wb.quickPickSelect('OPEN_ORDERS');
    await wb.treeRow('Values', /OPEN_ORDERS\s*list · __main__/).waitFor({ timeout: 20000 });
    await wb.treeRow('Values', /\[0\]\s*Order\(\{…\}\) 3 items/).waitFor();
  });

  await wb.step('open as document', async () => {
    await wb.treeRowActionUntil('Values', /CONFIG/, 'Open as Document',
      (timeout) => wb.activeEditorTab('__main__.CONFIG.txt').waitFor({ timeout }));
    const text = await wb.page.locator('.editor-group-container.active .monaco-editor .view-lines').first().innerText();
    assert.match(text.replace(/\u00a0/g, ' '), /# __main__\.CONFIG in process \d+[\s\S]*"region": "eu-west"/);
    await wb.screenshot('value-document');
  });

  await wb.step('hover', async () => {
    await wb.openFile('inspect_service.py');
    await wb.goToLine(lineOf('REQUESTS_SERVED = '), 3);
    await wb.page.mouse.move(900, 700); // no tooltip of the mouse in the screenshot
    await wb.executeCommand('editor.action.showHover');
    const hover = wb.page.locator('.monaco-hover', { hasText: 'PyFlight live value' });
    await hover.waitFor({ timeout: 20000 });
    assert.match((await hover.innerText()).replace(/\u00a0/g, ' '), /process \d+ · __main__\.REQUESTS_SERVED · int[\s\S]*\d+/);
    await wb.page.waitForTimeout(600); // the hover fades in
    await wb.screenshot('value-hover');
    // Its link opens the value in the Values view.
    const rows = () => wb.view('Values').locator('.monaco-list-row', { hasText: /REQUESTS_SERVED\s*int = \d+/ }).count();
    const before = await rows();
    await hover.locator('a', { hasText: 'Inspect Value' }).click();
    for (let i = 0; i < 100 && (await rows()) === before; i++) await wb.page.waitForTimeout(100);
    assert.equal(await rows(), before + 1, 'the hover link did not inspect the value');
  });
});

test('Show Live Instances from right-click on a class: the count and each instance', async () => {
  await wb.step('instances', async () => {
    await wb.openFile('inspect_service.py');
    await wb.editorContextMenu(lineOf('class Order:'), 'PyFlight: Show Live Instances');
    await wb.treeRow('Values', /Order\s*3 live instances · __main__/).waitFor({ timeout: 30000 });
    await wb.treeRow('Values', /\[1\] Order\s*0x[0-9a-f]+/).waitFor();
    await wb.expandTreeRow('Values', /\[3\] Order/);
    await wb.treeRow('Values', /customer\s*"<img src=x onerror=alert\(1\)>"/).waitFor();
    assert.equal(await wb.view('Values').locator('.monaco-list-row img').count(), 0, 'target text became markup');
    // The progress notification (with Cancel) closes once the listing is in.
    await wb.page.locator('.notifications-toasts .notification-toast-container', { hasText: 'listing the live instances' })
      .waitFor({ state: 'hidden', timeout: 10000 });
    await wb.screenshot('instances');
  });

  await wb.step('no instances', async () => {
    await wb.editorContextMenu(lineOf('class Refund:'), 'PyFlight: Show Live Instances');
    await wb.waitForNotification(/No live instances of __main__\.Refund in the process/, { timeout: 20000 });
    await wb.clearNotifications();
  });

  await wb.step('force gc', async () => {
    await wb.runCommand('PyFlight: Force GC in Process…');
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /gc\.collect\(\)[\s\S]*threads pause/);
    await wb.screenshot('force-gc-confirm');
    await dialog.locator('.monaco-button', { hasText: /^Collect$/ }).click();
    await wb.waitForNotification(/gc\.collect\(\) freed [\d,]+ unreachable objects?; objects tracked by the collector/, { timeout: 30000 });
    await wb.screenshot('force-gc-done');
  });
});
