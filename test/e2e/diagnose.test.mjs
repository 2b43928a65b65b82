// Issue 10: `@pyflight /diagnose <pid> <problem>` in the real workbench's Chat view answers with the
// deterministic report (the harness's fake model is never asked): a deadlock of two threads, named
// with both functions, source anchors and a button to the stacks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

let wb;
let target;
before(async () => {
  target = await startTarget('deadlock.py');
  wb = await launchWorkbench('diagnose');
});
after(async () => {
  await wb?.close();
  stopTargets();
});

/**
 * Like wb.askChat, but finds the response by its own text: the chat list is virtualised, so
 * earlier responses leave the DOM and counting them does not find the new one.
 */
async function ask(prompt, text, timeout = 90000) {
  await wb.runCommand('Chat: Focus on Chat View');
  const input = wb.page.locator('.interactive-input-part .monaco-editor').first();
  await input.click();
  await wb.page.keyboard.type(prompt);
  await wb.page.keyboard.press('Enter');
  const response = wb.page.locator('.interactive-response', { hasText: text }).last();
  await response.waitFor({ timeout });
  return response;
}

test('/diagnose with nothing attached and no pid says how to attach (not an error)', async () => {
  await wb.step('diagnose-no-session', async () => {
    const response = await wb.askChat('@pyflight /diagnose checkout is slow', { expect: 'No process is attached', timeout: 30000 });
    assert.ok(await response.locator('.monaco-button', { hasText: 'Attach to Process' }).count() >= 1);
  });
});

test('/diagnose <pid> in the chat: the deadlock first, with anchors and an Open Stacks button', async () => {
  await wb.step('diagnose', async () => {
    await wb.waitForMarker('harness-activated.json', { timeout: 60000 });
    const response = await ask(`@pyflight /diagnose ${target.pid} the billing service is stuck`, /billing service is stuck[\s\S]*Commands run/);
    const text = await response.innerText();
    assert.match(text, /Deadlock: /);
    assert.match(text, /transfer_to_savings/);
    assert.match(text, /write_audit_log/);
    assert.match(text, /no language model was used/);
    assert.doesNotMatch(text, /FAKE-LM/);
    // the culprit's location is a source anchor, and the stacks button is there
    assert.match(text, /critical — (transfer_to_savings|write_audit_log) at deadlock\.py#(22|29)/);
    assert.ok(await response.locator('.monaco-button', { hasText: 'Open Stacks' }).count() >= 1, text);
    // a tall window, so the whole answer is on one screenshot
    await wb.page.setViewportSize({ width: 1400, height: 1800 });
    await wb.page.waitForTimeout(500);
    await wb.screenshot('diagnose-deadlock');
    await wb.page.setViewportSize({ width: 1400, height: 900 });
  });
});


test('/diagnose without a pid diagnoses the current session (the one just attached)', async () => {
  await wb.step('diagnose-current', async () => {
    const response = await ask('@pyflight /diagnose what is going on', /Routed by quick evidence[\s\S]*Commands run/);
    const text = await response.innerText();
    assert.match(text, new RegExp(`deadlock\\.py \\(pid ${target.pid}\\)`));
    assert.match(text, /Routed by quick evidence: threads wait for locks other threads hold/);
    assert.match(text, /Deadlock: /);
    await wb.screenshot('diagnose-current-session');
  });
});
