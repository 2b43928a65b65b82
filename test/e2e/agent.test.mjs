// Attaching loads nothing; the first command that needs the agent asks first (issue 7, "no
// footprint until needed"). The other flows run with pyflight.confirmAgentLoad off; this one turns
// it on by editing the user settings file, as a user would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

let wb;
let service;
const settingsFile = join(env.data, 'User', 'settings.json');
const original = readFileSync(settingsFile, 'utf8');

function agentIn(pid) {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('flight_profiler_agent');
}

before(async () => {
  service = await startTarget('busy_service.py');
  writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(original), 'pyflight.confirmAgentLoad': true }, null, 2));
  wb = await launchWorkbench('agent'); // reads the settings at load
  await wb.executeCommand('pyflight.attach', service.pid);
});
after(async () => {
  writeFileSync(settingsFile, original);
  await wb?.close();
  stopTargets();
});

test('attach is read-only; a command that needs the agent asks, Cancel loads nothing, Load loads it', async () => {
  await wb.step('consent', async () => {
    await wb.openView('PyFlight');
    const row = wb.treeRow('Sessions', new RegExp(`busy_service\\.py \\(pid ${service.pid}\\)\\s*attached · read-only`));
    await row.waitFor({ timeout: 30000 });
    assert.equal(agentIn(service.pid), false, 'attaching loaded something into the process');

    await wb.runCommand('PyFlight: Show Async Tasks');
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 20000 });
    const text = await dialog.innerText();
    // The process by its script and pid, and its command line (two services from one folder: a pid alone did not say which).
    assert.match(text, new RegExp(`Load the PyFlightProfiler agent into busy_service\\.py \\(pid ${service.pid}\\)\\?`));
    assert.match(text, new RegExp(`Process ${service.pid}: \\S*python\\S* busy_service\\.py`));
    assert.match(text, /stays until the process exits/);
    assert.match(text, /Stacks need no agent/);
    await wb.screenshot('consent-dialog');
    await dialog.locator('.monaco-button', { hasText: /^Cancel$/ }).click();
    await dialog.waitFor({ state: 'hidden' });
    await row.waitFor();
    assert.equal(agentIn(service.pid), false, 'Cancel still loaded the agent');

    await wb.runCommand('PyFlight: Show Async Tasks');
    await dialog.waitFor({ timeout: 20000 });
    await dialog.locator('.monaco-button', { hasText: /^Load Agent$/ }).click();
    await wb.treeRow('Stacks', /Async tasks \(\d+\)/).waitFor({ timeout: 30000 });
    await wb.treeRow('Sessions', new RegExp(`busy_service\\.py \\(pid ${service.pid}\\)\\s*attached · agent loaded`)).waitFor({ timeout: 30000 });
    assert.equal(agentIn(service.pid), true);
    await wb.screenshot('agent-loaded');
  });
});
