// Issue 10: `@pyflight /diagnose <pid> <problem>` in the real workbench's Chat view answers with the
// deterministic report: a deadlock of two threads, named with both functions, source anchors and a
// button to the stacks; `/diagnose-exception` on a service that swallows a ValueError. After the
// report, the chat's model is asked to explain it: here that model is the harness's SCRIPTED test
// model (extensions/chat-harness, not a language model), which calls PyFlight's pyflight_stacks tool.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

let wb;
let target;
let swallowing;
let asyncApi;
before(async () => {
  target = await startTarget('deadlock.py');
  swallowing = await startTarget('swallowed_errors.py');
  asyncApi = await startTarget('unseen/async_api.py');
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
    // The button is rendered after the text that the answer was recognised by.
    await response.locator('.monaco-button', { hasText: 'Attach to Process' }).first().waitFor({ timeout: 15000 });
  });
});

test('/diagnose <pid> in the chat: the deadlock first, with anchors and a Show Stacks button', async () => {
  await wb.step('diagnose', async () => {
    await wb.waitForMarker('harness-activated.json', { timeout: 60000 });
    const response = await ask(`@pyflight /diagnose ${target.pid} the billing service is stuck`, /billing service is stuck[\s\S]*Commands run[\s\S]*SCRIPTED MODEL/);
    const text = await response.innerText();
    assert.match(text, /Deadlock: /);
    assert.match(text, /transfer_to_savings/);
    assert.match(text, /write_audit_log/);
    assert.match(text, /no language model was used for it/);
    assert.doesNotMatch(text, /FAKE-LM/);
    // the culprit's location is a source anchor, and the stacks button is there
    assert.match(text, /critical — (transfer_to_savings|write_audit_log) at deadlock\.py#(22|29)/);
    assert.ok(await response.locator('.monaco-button', { hasText: 'Show Stacks' }).count() >= 1, text);
    // a tall window, so the whole answer is on one screenshot
    await wb.page.setViewportSize({ width: 1400, height: 1800 });
    await wb.page.waitForTimeout(500);
    await wb.screenshot('diagnose-deadlock');
    await wb.page.setViewportSize({ width: 1400, height: 900 });
  });
});


test('/diagnose without a pid diagnoses the current session (the one just attached)', async () => {
  await wb.step('diagnose-current', async () => {
    const response = await ask('@pyflight /diagnose what is going on', /Routed by quick evidence[\s\S]*Commands run[\s\S]*SCRIPTED MODEL/);
    const text = await response.innerText();
    assert.match(text, new RegExp(`deadlock\\.py \\(pid ${target.pid}\\)`));
    assert.match(text, /Routed by quick evidence: threads wait for locks other threads hold/);
    assert.match(text, /Deadlock: /);
    await wb.screenshot('diagnose-current-session');
  });
});

test('/diagnose-exception <pid>: progress, then the swallowed ValueError first with its handler, a Watch button, and the scripted model calling a PyFlight tool', async () => {
  await wb.step('diagnose-exception', async () => {
    wb.removeMarker('scripted-model.json'); // the deadlock tests' model calls wrote one too
    await wb.runCommand('Chat: Focus on Chat View');
    await wb.page.locator('.interactive-input-part .monaco-editor').first().click();
    await wb.page.keyboard.type(`@pyflight /diagnose-exception ${swallowing.pid} orders vanish`);
    await wb.page.keyboard.press('Enter');
    // progress while the exception window is open
    await wb.page.locator('.interactive-response', { hasText: /Counting exceptions|Exception hook in/ }).last().waitFor({ timeout: 60000 });
    await wb.screenshot('diagnose-exception-progress');
    const response = wb.page.locator('.interactive-response', { hasText: /swallowed_errors\.py \(pid \d+\)[\s\S]*SCRIPTED MODEL[\s\S]*See \[F1\]/ }).last();
    await response.waitFor({ timeout: 90000 });
    const text = await response.innerText();
    assert.match(text, /parse_quantity raises ValueError \d+ times? in [\d.]+ s, which is swallowed by except Exception: in handle_request \(swallowed_errors\.py:55\)/);
    assert.match(text, /Sample input: parse_quantity\(raw='twelve'\)/);
    assert.match(text, /Routed by asked for \(\/diagnose-exception\)/);
    assert.match(text, /pyflight watch \d+ __main__ parse_quantity -e -n 5/);
    assert.match(text, /high — parse_quantity at swallowed_errors\.py#24/);
    assert.match(text, /price_of raises KeyError/);
    assert.match(text, /pyflight watch \d+ __main__ price_of -e -n 5/);
    assert.ok(await response.locator('.monaco-button', { hasText: 'Watch parse_quantity' }).count() >= 1, text);
    // the scripted model's tool call ran against this fixture
    assert.match(text, /The model ran pyflight_stacks/);
    assert.match(text, /SCRIPTED MODEL \(a test script, not a language model\): pyflight_stacks on process \d+ returned \d+ lines; threads .*order-worker-\d/);
    const marker = await wb.waitForMarker('scripted-model.json', { timeout: 10000 });
    assert.equal(marker.pid, swallowing.pid);
    assert.match(marker.toolText, /Thread \d+ "order-worker-1"/);
    await wb.page.setViewportSize({ width: 1400, height: 2000 });
    await wb.page.waitForTimeout(500);
    await wb.screenshot('diagnose-exception');
    await wb.page.setViewportSize({ width: 1400, height: 900 });
    await response.locator('text=SCRIPTED MODEL').first().scrollIntoViewIfNeeded();
    await wb.screenshot('diagnose-exception-model');
  });
});

test('/diagnose-memory <pid>: the growing class first (with what each holds), the dict held by a class attribute with its line, census progress, Inspect Instances buttons', async () => {
  const leaky = await startTarget('leaky_registry.py');
  await wb.step('diagnose-memory', async () => {
    const response = await ask(`@pyflight /diagnose-memory ${leaky.pid} memory keeps growing`, /leaky_registry\.py \(pid \d+\)[\s\S]*Commands run/, 120000);
    const text = await response.innerText();
    assert.match(text, /RequestContext objects grow by [\d.,]+\/s \(\+[\d.]+ [KM]B\/min: each holds a dict[^)]*\), held by __main__\.BUS\._listeners\['shutdown'\]/);
    assert.match(text, /dict objects grow by [\d.,]+\/s \([^)]*\), held by __main__\.SessionStore\._by_token \(dict, [\d,]+ entries\)/);
    assert.ok(text.indexOf('RequestContext objects grow') < text.indexOf('dict objects grow'), 'the user\'s class comes first');
    assert.match(text, /__main__\.SessionStore\._by_token at leaky_registry\.py#\d+/);
    assert.match(text, /Census: [\d,.]+( M)? tracked objects/);
    assert.match(text, /Created in handle_request/);
    const inspect = response.locator('.monaco-button', { hasText: 'Inspect RequestContext Instances' });
    assert.ok(await inspect.count() >= 1, text);
    // No "Watch" button on a holder's assignment line: it is not a function.
    assert.equal(await response.locator('.monaco-button', { hasText: /^Watch / }).count(), 0);
    await wb.page.setViewportSize({ width: 1400, height: 2000 });
    await wb.page.waitForTimeout(500);
    await wb.screenshot('diagnose-memory');
    await wb.page.setViewportSize({ width: 1400, height: 900 });
    await inspect.first().click();
    await wb.treeRow('Values', /RequestContext\s*[\d,]+ live instances · __main__/).waitFor({ timeout: 30000 });
    await wb.screenshot('diagnose-memory-instances');
  });
});

test('/diagnose <pid> on an asyncio service it had not seen: the blocked event loop first, in words a user reads', async () => {
  await wb.step('diagnose-async', async () => {
    const response = await ask(`@pyflight /diagnose ${asyncApi.pid} the async API is slow, every request waits`, /async API is slow[\s\S]*Commands run[\s\S]*SCRIPTED MODEL/);
    const text = await response.innerText();
    assert.match(text, /The asyncio event loop \(MainThread\) is blocked in _legacy_profile_lookup/);
    assert.match(text, /asyncio\.to_thread/);
    // What the chat offers next fits a blocked loop: sample it again, not a GIL or lock question.
    await wb.page.getByText('Sample the event loop again', { exact: true }).waitFor({ timeout: 10000 });
    assert.equal(await wb.page.getByText(/^(Who holds the GIL\?|Look for lock waits)$/).count(), 0);
    await wb.page.setViewportSize({ width: 1400, height: 1800 });
    await wb.page.waitForTimeout(500);
    await wb.screenshot('diagnose-async-unseen');
    await wb.page.setViewportSize({ width: 1400, height: 900 });
  });
});
