// The GIL status-bar item (issue 8): on a process where one thread hogs the GIL, a click turns GIL
// statistics on (the agent loads; exact times from the interceptor on this pyenv interpreter, whose
// take_gil lives in libpython), the item shows who holds and who waits, and a second click turns it off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

let wb;
let target;

before(async () => {
  target = await startTarget('gil_hog.py');
  wb = await launchWorkbench('gil');
  await wb.executeCommand('pyflight.attach', target.pid);
});
after(async () => {
  await wb?.close();
  stopTargets();
});

test('the GIL item toggles statistics and shows the hog holding and the waiters waiting', async () => {
  await wb.step('gil', async () => {
    // (The item's text starts with a codicon glyph; "gil_hog.py" in the session item is lower case.)
    const item = wb.page.locator('.statusbar-item', { hasText: /GIL$/ }).first();
    await item.waitFor({ timeout: 20000 });
    await item.click();
    const live = wb.page.locator('.statusbar-item', { hasText: /GIL: gil-hog holds \d+%/ });
    await live.waitFor({ timeout: 60000 });
    assert.match(await live.innerText(), /gil-waiter-\d waits \d+%/);
    await wb.screenshot('gil-on');
    await live.click();
    await wb.page.locator('.statusbar-item', { hasText: /GIL$/ }).waitFor({ timeout: 30000 });
    await wb.screenshot('gil-off');
  });
});
