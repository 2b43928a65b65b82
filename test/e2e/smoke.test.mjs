// Smoke test: the built extension loads in a real VS Code workbench (code-server, web workbench,
// Node extension host) and its contributions show up. Run with `node test/e2e/run.mjs smoke`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchWorkbench } from './lib/workbench.mjs';

let wb;
before(async () => { wb = await launchWorkbench('smoke'); });
after(async () => { await wb?.close(); });

test('the workbench loads with the fixture folder open', async () => {
  await wb.step('workbench', async () => {
    await wb.page.locator('.part.editor').waitFor();
    // the Explorer shows the workspace (a copy of test/fixtures/)
    await wb.openView('Explorer');
    await wb.page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'busy_service.py' }).waitFor();
    await wb.screenshot('workbench');
  });
});

test('the PyFlight activity-bar container has the Sessions and Stacks views', async () => {
  await wb.step('container', async () => {
    await wb.openView('PyFlight');
    await wb.view('Sessions').waitFor();
    await wb.view('Stacks').waitFor();
    const titles = await wb.sideBarViewTitles();
    assert.ok(titles.includes('Sessions'), `side bar views: ${titles.join(', ')}`);
    assert.ok(titles.includes('Stacks'), `side bar views: ${titles.join(', ')}`);
    await wb.screenshot('pyflight-views');
  });
});

test('the Sessions view shows its welcome content with the attach link', async () => {
  await wb.step('welcome', async () => {
    await wb.openView('PyFlight');
    await wb.expandView('Sessions');
    const welcome = wb.welcome('Sessions');
    await welcome.waitFor();
    await welcome.getByText('Attach to a Python process').waitFor();
    await wb.screenshot('sessions-welcome');
  });
});

test('the extension activates without errors', async () => {
  const { event, error } = await wb.waitForActivation('pyflight.pyflight');
  assert.equal(error, null, `activation (${event}) failed:\n${error}`);
});

test('the command palette offers "PyFlight: Attach to Process…"', async () => {
  await wb.step('palette', async () => {
    await wb.page.keyboard.press('F1');
    await wb.quickInputBox.fill('>PyFlight');
    const row = wb.quickInputRows().filter({ hasText: 'PyFlight: Attach to Process…' }).first();
    await row.waitFor();
    await wb.screenshot('palette');
    await wb.page.keyboard.press('Escape');
    assert.equal(await wb.hasCommand('PyFlight: Attach to Process…'), true);
  });
});
