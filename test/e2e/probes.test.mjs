// Issue 3 end to end: open a fixture file, right-click inside a function → Watch This Function →
// the options box → records stream into the Watch view → click one → the editor jumps to the def.
// Same for Trace; the status bar counts probes; stopping turns them off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

let wb;
let service;
before(async () => {
  service = await startTarget('busy_service.py');
  wb = await launchWorkbench('probes');
  await wb.executeCommand('pyflight.attach', service.pid);
});
after(async () => {
  await wb?.close();
  stopTargets();
});

test('right-click → Watch This Function → records in the Watch view → click jumps to the def', async () => {
  await wb.step('watch', async () => {
    await wb.openFile('shop/orders.py');
    await wb.editorContextMenu(22, 'PyFlight: Watch This Function'); // inside restock()
    await wb.quickInputBox.waitFor();
    assert.equal(await wb.quickInputBox.inputValue(), 'shop.orders restock -n 10');
    await wb.quickInputEnter('shop.orders restock -n 4 --expr "args, return_obj"');
    await wb.openView('PyFlight');
    await wb.treeRow('Watch', /shop\.orders\.restock/).waitFor({ timeout: 20000 });
    await wb.treeRow('Watch', /4 calls · ended: limit 4 reached/).waitFor({ timeout: 30000 });
    await wb.screenshot('watch-view');
    const record = wb.view('Watch').locator('.monaco-list-row', { hasText: /\d\d:\d\d:\d\d\.\d{3}/ }).first();
    await record.locator('.monaco-tl-twistie').click();
    await wb.treeRow('Watch', 'args, return_obj').waitFor();
    await wb.screenshot('watch-record-expanded');
    await record.click();
    await wb.activeEditorTab('orders.py').waitFor();
    await wb.page.locator('.statusbar-item', { hasText: /Ln 20, Col 1/ }).waitFor();
  });
});

test('a bad expression in the options box is refused before anything starts', async () => {
  await wb.step('bad-expr', async () => {
    await wb.openFile('shop/orders.py');
    await wb.editorContextMenu(22, 'PyFlight: Watch This Function');
    await wb.quickInputEnter('shop.orders restock -n 4 --expr "args["');
    await wb.waitForNotification(/The watch expression 'args\[' is not a valid Python expression/, { timeout: 20000 });
    await wb.screenshot('watch-bad-expression');
    await wb.clearNotifications();
  });
});

test('Trace This Function shows the call tree with the hot path expanded', async () => {
  await wb.step('trace', async () => {
    await wb.openFile('busy_service.py');
    await wb.editorContextMenu(26, 'PyFlight: Trace This Function'); // inside handle_request()
    await wb.quickInputEnter('__main__ handle_request -n 2');
    await wb.openView('PyFlight');
    await wb.treeRow('Trace', /__main__\.handle_request/).waitFor({ timeout: 20000 });
    await wb.treeRow('Trace', /2 calls · ended: limit 2 reached/).waitFor({ timeout: 30000 });
    await wb.expandTreeRow('Trace', /ms\s+handle_request/);
    await wb.treeRow('Trace', /sleep.*built-in/).waitFor();
    await wb.treeRow('Trace', /compute_checksum/).waitFor();
    await wb.screenshot('trace-view');
  });
});

test('a live probe shows in the status bar and CodeLens, and Stop turns it off', async () => {
  await wb.step('live', async () => {
    await wb.openFile('shop/orders.py');
    await wb.editorContextMenu(13, 'PyFlight: Watch This Function'); // inside total_price()
    await wb.quickInputEnter('shop.orders total_price -n 100000');
    await wb.page.locator('.statusbar-item', { hasText: '1 probe' }).waitFor({ timeout: 20000 });
    await wb.page.locator('.codelens-decoration', { hasText: /PyFlight watching: \d+ calls/ }).waitFor({ timeout: 20000 });
    // The view follows the live stream (not only when it ends): the count climbs while it runs.
    await wb.treeRow('Watch', /total_price[\s\S]*live · ([3-9]|\d{2,}) calls/).waitFor({ timeout: 20000 });
    await wb.treeRow('Watch', /total_price[\s\S]*live · (1\d|[2-9]\d|\d{3,}) calls/).waitFor({ timeout: 20000 });
    await wb.screenshot('live-probe');
    // Records stream in (the row re-renders), which can swallow a click: Stop again then.
    await wb.treeRowActionUntil('Watch', /shop\.orders\.total_price/, 'Stop',
      (timeout) => wb.treeRow('Watch', /total_price[\s\S]*stopped/).waitFor({ timeout }));
    await wb.page.locator('.statusbar-item', { hasText: /\d+ probes?/ }).waitFor({ state: 'hidden', timeout: 20000 });
  });
});

test('Time Tunnel: record from the palette, expand a call, replay it after confirming', async () => {
  await wb.step('tt', async () => {
    await wb.runCommand('PyFlight: Record Calls of Function (Time Tunnel)…');
    await wb.quickInputEnter('shop.orders restock -n 3');
    // Starting a recording reveals (and expands) the Time Tunnel view; clicking its header here
    // as well would race with that and could collapse it again.
    const expanded = wb.view('Time Tunnel').locator('.pane-header[aria-expanded="true"]');
    await expanded.waitFor({ timeout: 5000 }).catch(() => wb.expandView('Time Tunnel'));
    await expanded.waitFor({ timeout: 10000 });
    await wb.treeRow('Time Tunnel', /3 records · ended: limit 3 reached/).waitFor({ timeout: 30000 });
    const record = wb.view('Time Tunnel').locator('.monaco-list-row', { hasText: /#\d{4}.*returned/ }).first();
    const label = (await record.locator('.label-name').textContent()).trim();
    await record.locator('.monaco-tl-twistie').click();
    await wb.treeRow('Time Tunnel', /^\s*args/).waitFor({ timeout: 15000 });
    await wb.treeRow('Time Tunnel', /returned/).waitFor();
    await wb.treeRowAction('Time Tunnel', label, 'Replay Call…');
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /side effects included/);
    await wb.screenshot('tt-replay-confirm');
    await dialog.locator('.monaco-button', { hasText: /^Replay$/ }).click();
    await wb.revealTreeRow('Time Tunnel', /replay of #\d{4}/, { timeout: 20000 });
    await wb.screenshot('tt-replayed');
  });
});
