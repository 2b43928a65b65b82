// Self-test of the harness helpers (lib/workbench.mjs) on built-in workbench UI only, so a failure
// here means the harness (or the VS Code version) changed, not PyFlight.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { launchWorkbench } from './lib/workbench.mjs';

let wb;
before(async () => { wb = await launchWorkbench('harness'); });
after(async () => { await wb?.close(); });

test('code-server runs VS Code 1.100 with a Node extension host and the chat harness', async () => {
  const h = await wb.waitForMarker('harness-activated.json', { timeout: 60000 });
  assert.equal(h.lmRegistered, true, JSON.stringify(h));
  assert.equal(h.participant, true, JSON.stringify(h));
  assert.match(wb.extHostLog(), /Extension host with pid \d+ started/);
});

test('openFile opens a fixture through quick open', async () => {
  await wb.step('openFile', async () => {
    await wb.openFile('shop/orders.py');
    await wb.openFile('plain_sleeper.py');
    await wb.page.locator('.editor-group-container.active .view-lines', { hasText: 'def idle_forever' }).waitFor();
    assert.equal(await wb.activeEditorTab('plain_sleeper.py').count(), 1);
  });
});

test('runCommand + quickPickSelect change the language mode', async () => {
  await wb.step('quickpick', async () => {
    await wb.runCommand('Change Language Mode');
    await wb.quickPickSelect('Plain Text');
    await wb.page.locator('.part.statusbar', { hasText: 'Plain Text' }).waitFor();
    await wb.runCommand('Change Language Mode');
    await wb.quickPickSelect('Python');
    await wb.page.locator('.part.statusbar .statusbar-item', { hasText: /^Python$/ }).first().waitFor();
  });
});

test('treeRow finds rows of a view; openView toggles nothing when already shown', async () => {
  await wb.step('tree', async () => {
    await wb.openView('Explorer');
    await wb.openView('Explorer');
    // the Explorer's folder view is titled with the workspace folder's name
    const folderView = basename(process.env.E2E_WS);
    // An earlier test may have scrolled the tree anywhere: back to its first row (folders first).
    await wb.executeCommand('workbench.files.action.focusFilesExplorer');
    await wb.page.keyboard.press('Home');
    // the folder, not shop_api_service.py
    await wb.expandTreeRow(folderView, /^\s*shop\s*$/);
    await wb.revealTreeRow(folderView, 'orders.py');
    assert.ok((await wb.treeRows(folderView)).includes('orders.py'));
    assert.ok(await wb.page.locator('.part.sidebar').isVisible());
  });
});

test('revealTreeRow scrolls a virtualised tree to rows out of view', async () => {
  await wb.step('reveal', async () => {
    const folderView = basename(process.env.E2E_WS);
    await wb.openView('Explorer');
    await wb.executeCommand('workbench.files.action.focusFilesExplorer');
    await wb.page.keyboard.press('Home');
    await wb.expandTreeRow(folderView, /^\s*shop\s*$/);
    await wb.page.setViewportSize({ width: 1400, height: 260 }); // a short side bar: a few rows only
    try {
      await wb.revealTreeRow(folderView, 'orders.py');
      const last = wb.treeRow(folderView, 'record_faulthandler_stack.py');
      // the workbench re-lays out after the resize: then the last row is no longer rendered
      await last.waitFor({ state: 'detached', timeout: 5000 });
      await (await wb.revealTreeRow(folderView, 'record_faulthandler_stack.py')).waitFor();
      await wb.screenshot('revealed');
    } finally {
      await wb.page.setViewportSize({ width: 1400, height: 900 });
    }
  });
});

test('goToLine and editorContextMenu work in the active editor', async () => {
  await wb.step('editor', async () => {
    await wb.openFile('plain_sleeper.py');
    await wb.goToLine(8);
    await wb.page.locator('.part.statusbar .statusbar-item', { hasText: 'Ln 8, Col 1' }).waitFor();
    await wb.editorContextMenu(9, 'Command Palette...');
    await wb.quickInputBox.waitFor();
    assert.equal(await wb.quickInputBox.inputValue(), '>');
    await wb.page.keyboard.press('Escape');
  });
});

test('executeCommand runs a command with arguments in the extension host; waitForNotification sees its toast', async () => {
  await wb.step('notification', async () => {
    const shown = wb.executeCommand('e2eHarness.showInformationMessage', 'Hello from the e2e harness', 'OK');
    const toast = await wb.waitForNotification('Hello from the e2e harness');
    await wb.screenshot('notification');
    await toast.locator('.monaco-button', { hasText: 'OK' }).click();
    assert.equal(await shown, 'OK');
    const all = await wb.executeCommand('e2eHarness.noSuchCommand').then(() => 'resolved', (e) => e.message);
    assert.match(all, /not found/);
    wb.executeCommand('e2eHarness.showInformationMessage', 'Second toast');
    await wb.waitForNotification('Second toast');
    await wb.clearNotifications();
    assert.deepEqual(await wb.notifications(), []);
  });
});

test('askChat reaches the default chat participant of the harness', async () => {
  await wb.step('chat', async () => {
    const response = await wb.askChat('hello from playwright', { expect: 'harness got: hello from playwright' });
    assert.match(await response.innerText(), /harness got: hello from playwright/);
    await wb.screenshot('chat');
  });
});
