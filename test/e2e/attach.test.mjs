// Issue 2 end to end in the real workbench: palette → Attach to Process… → pick the fixture →
// Sessions view → Show Stacks → the fixture's function → click a frame → the editor opens at that
// line. Then the bad inputs, through the same UI, with the message a user sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, launchWorkbench } from './lib/workbench.mjs';
import { bareVenvPython, helperPids, isHelperRunning, startCommand, startForeignHelper, startTarget, stopTargets, unusedPid } from './lib/targets.mjs';

let wb;
let service;
let foreign; // another user's helper on the same machine: never counted, never touched
before(async () => {
  foreign = startForeignHelper();
  service = await startTarget('busy_service.py');
  wb = await launchWorkbench('attach');
});
after(async () => {
  await wb?.close();
  stopTargets();
});

test('attach from the palette via the process picker; the Sessions view shows the session', async () => {
  await wb.step('attach', async () => {
    await wb.openView('PyFlight');
    await wb.runCommand('PyFlight: Attach to Process…');
    await wb.quickInputRows().filter({ hasText: 'busy_service.py' }).first().waitFor({ timeout: 15000 });
    // Each process with its CPU use and resident memory; PyFlight's own helpers are not offered.
    const listed = (await wb.quickPickItems()).find((r) => r.includes(`PID ${service.pid} `));
    assert.match(listed ?? '', new RegExp(`PID ${service.pid} · \\S+ · \\d+[smhd] · CPU [\\d.]+% · [\\d.]+ [KMG]B`), listed);
    await wb.quickInputBox.fill(String(foreign.pid)); // not listed, so only "Enter PID manually…" is left
    await wb.quickInputRows().filter({ hasText: 'Enter PID manually' }).waitFor();
    assert.ok(!(await wb.quickPickItems()).some((r) => r.includes(`PID ${foreign.pid}`)), 'a pyflight_helper is offered as a target');
    await wb.quickInputBox.fill('');
    await wb.screenshot('picker');
    // By pid: other users' busy_service.py may run on this machine too.
    await wb.quickPickSelect(`PID ${service.pid} `, { type: String(service.pid) });
    const row = wb.treeRow('Sessions', `busy_service.py (pid ${service.pid})`);
    await row.waitFor({ timeout: 30000 });
    // Attaching loads nothing into the process: the session is read-only until a command needs the agent.
    await wb.view('Sessions').locator('.monaco-list-row', { hasText: 'attached · read-only · Python 3.' }).first().waitFor({ timeout: 30000 });
    // Issue 6: the Stacks view opens on the new process, no Show Stacks needed; the label leads with the function.
    await wb.treeRow('Stacks', /in (handle_request|compute_checksum) · request-worker/).waitFor({ timeout: 30000 });
    await wb.screenshot('stacks-after-attach');
    await wb.expandTreeRow('Sessions', `busy_service.py (pid ${service.pid})`);
    await wb.treeRow('Sessions', /flight-profiler 1\.0\.7\s*agent not loaded/).waitFor();
    await wb.treeRow('Sessions', /\.venv\/bin\/python/).waitFor();
    // Its row of the capability table (the project's .venv is pyenv's CPython 3.11: every feature tested here).
    await wb.treeRow('Sessions', /tested interpreter\s*every feature tested/).waitFor();
    await wb.screenshot('sessions');
  });
});

test('Show Stacks lists named threads; clicking a frame opens the source line', async () => {
  await wb.step('stacks', async () => {
    await wb.runCommand('PyFlight: Show Stacks');
    await wb.treeRow('Stacks', 'request-worker').waitFor({ timeout: 30000 });
    const frame = await wb.revealTreeRow('Stacks', /request_worker\s*busy_service\.py:34/);
    await wb.screenshot('stacks');
    await frame.click();
    await wb.activeEditorTab('busy_service.py').waitFor();
    await wb.page.locator('.statusbar-item', { hasText: /Ln 34, Col 1/ }).waitFor();
    await wb.screenshot('frame-opened');
  });
});

test('Show Async Tasks lists the asyncio tasks first', async () => {
  await wb.step('async', async () => {
    await wb.runCommand('PyFlight: Show Async Tasks');
    await wb.treeRow('Stacks', /Async tasks \(\d+\)/).waitFor({ timeout: 30000 });
    await wb.revealTreeRow('Stacks', 'inventory-poller');
    await wb.screenshot('async-tasks');
  });
});

test('Export Stacks to File… writes the dump where the user chose', async () => {
  await wb.step('export', async () => {
    await wb.runCommand('PyFlight: Export Stacks to File…');
    // The web workbench's save dialog is a quick input holding the proposed path: accept it.
    await wb.quickInputBox.waitFor();
    await wb.page.waitForFunction((el) => /stacks-\d+-.*\.txt$/.test(el.value), await wb.quickInputBox.elementHandle());
    const proposed = await wb.quickInputBox.inputValue();
    assert.ok(proposed.startsWith(env.ws), `proposed ${proposed}, expected inside the workspace`);
    await wb.page.keyboard.press('Enter');
    const toast = await wb.waitForNotification('Stacks saved to', { timeout: 15000 });
    const file = /Stacks saved to (\S+\.txt)/.exec(await toast.innerText())[1];
    assert.equal(file, join(env.ws, proposed.slice(env.ws.length + 1)));
    const text = readFileSync(file, 'utf8');
    assert.match(text, new RegExp(`^Process ${service.pid} — stacks captured`));
    assert.match(text, /Thread \d+ "request-worker"/);
    await wb.clearNotifications();
  });
});

test('Detach ends the session and stops its helper', async () => {
  await wb.step('detach', async () => {
    const before = helperPids();
    assert.ok(before.length >= 1, 'no helper running while attached');
    await wb.treeRowAction('Sessions', `busy_service.py (pid ${service.pid})`, 'Detach');
    await wb.welcome('Sessions').getByText('Attach to a Python process').waitFor({ timeout: 15000 });
    for (let i = 0; i < 50 && helperPids().length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(helperPids(), []);
    assert.ok(isHelperRunning(foreign.pid), "the other user's helper is still running");
  });
});

async function attachManually(pid) {
  await wb.runCommand('PyFlight: Attach to Process…');
  await wb.quickPickSelect('Enter PID manually', { type: false });
  await wb.quickInput.getByText('Process ID (PID)').waitFor(); // the input box, not the list it replaces
  await wb.quickInputEnter(String(pid));
}

test('bad input: a PID that does not exist', async () => {
  await wb.step('bad-pid', async () => {
    const pid = unusedPid();
    await attachManually(pid);
    await wb.waitForNotification(`No process with PID ${pid} is running. Pick a running process from the list, or check the PID.`);
    await wb.screenshot('error-pid-not-found');
    await wb.clearNotifications();
  });
});

test('bad input: a process that is not Python', async () => {
  await wb.step('not-python', async () => {
    const sleeper = startCommand('sleep', ['600']);
    await attachManually(sleeper.pid);
    await wb.waitForNotification(`Process ${sleeper.pid} is not a Python process (/usr/bin/sleep).`);
    await wb.screenshot('error-not-python');
    await wb.clearNotifications();
  });
});

test('bad input: flight-profiler missing offers to install it, and says why the install fails', async () => {
  await wb.step('not-installed', async () => {
    const python = bareVenvPython();
    const target = await startTarget('plain_sleeper.py', python);
    await attachManually(target.pid);
    const message = `flight-profiler is not installed in the target's environment (${python}).`;
    await wb.waitForNotification(message, { timeout: 30000 });
    await wb.screenshot('error-not-installed');
    // This venv has no pip: the offered install must fail with a clear reason, not hang.
    await wb.clickNotificationButton(message, `Install flight-profiler into ${python}`);
    await wb.waitForNotification(/does not allow pip installs \(no pip\)/, { timeout: 60000 });
    await wb.screenshot('error-install-failed');
    await wb.clearNotifications();
  });
});

test('bad input: a target that exits while PyFlight loads its agent', async () => {
  await wb.step('target-exited', async () => {
    const target = await startTarget('exits_on_attach.py');
    await attachManually(target.pid);
    await wb.treeRow('Sessions', new RegExp(`exits_on_attach\\.py \\(pid ${target.pid}\\)\\s*attached · read-only`)).waitFor({ timeout: 30000 });
    await wb.runCommand('PyFlight: Show Async Tasks'); // needs the agent
    await wb.waitForNotification(`Process ${target.pid} exited while PyFlight was loading its agent. Start the program again and attach to the new process.`, { timeout: 40000 });
    await wb.screenshot('error-target-exited');
    await wb.clearNotifications();
    assert.deepEqual(helperPids(), [], 'a helper outlived the failed attach');
  });
});

test('Watch This Function with nothing attached goes through the process picker first', async () => {
  await wb.step('watch-without-session', async () => {
    await wb.openFile('shop/orders.py');
    await wb.editorContextMenu(13, 'PyFlight: Watch This Function'); // inside total_price()
    await wb.quickPickSelect(`PID ${service.pid} `, { type: String(service.pid) }); // the process picker, since no session is attached
    await wb.page.waitForFunction((el) => el.value === 'shop.orders total_price -n 10', await wb.quickInputBox.elementHandle(), { timeout: 30000 });
    await wb.quickInputEnter('shop.orders total_price -n 2');
    await wb.openView('PyFlight');
    await wb.treeRow('Watch', /2 calls · ended: limit 2 reached/).waitFor({ timeout: 30000 });
    await wb.screenshot('watch-after-picker');
  });
});

let lockTarget;
/** The row's label (not its description) is wholly visible at the sidebar's width. */
const labelFits = (row) => row.evaluate((el) => {
  const name = el.querySelector('.label-name');
  const box = el.querySelector('.monaco-icon-label-container') ?? el;
  return name.getBoundingClientRect().right <= box.getBoundingClientRect().right + 1;
});
test('attaching shows the stacks: blocked threads are one group that says which lock they wait for', async () => {
  await wb.step('grouped-stacks', async () => {
    const target = lockTarget = await startTarget('lock_contention.py');
    await wb.runCommand('PyFlight: Attach to Process…');
    await wb.quickPickSelect(`PID ${target.pid} `, { type: String(target.pid) });
    await wb.treeRow('Sessions', new RegExp(`lock_contention\\.py \\(pid ${target.pid}\\)\\s*attached`)).waitFor({ timeout: 30000 });
    // No Show Stacks: attaching opened the Stacks view on this process.
    const group = wb.treeRow('Stacks', 'in wait_for_lock · 3 threads');
    await group.waitFor({ timeout: 30000 });
    assert.match(await group.innerText(), /waiting for LOCK · held by holder · same stack · waiter-\d, waiter-\d, waiter-\d/);
    assert.ok(await labelFits(group), 'the group label is cut at the default sidebar width');
    await wb.treeRow('Stacks', /in hold_lock_forever · holder\s*sleeping, holds LOCK/).waitFor();
    await wb.screenshot('grouped-stacks');
    // The lock row under the group opens the line that waits.
    await wb.treeRow('Stacks', /waiting for LOCK\s*lock_contention\.py:17/).click();
    await wb.activeEditorTab('lock_contention.py').waitFor();
    await wb.page.locator('.statusbar-item', { hasText: /Ln 17, Col 1/ }).waitFor();
    await wb.screenshot('blocked-on-lock-opened');
  });
});

// Issue 6, "the right process": busy_service.py (A, imports shop/orders.py) and lock_contention.py
// (B, attached last and so the current one) are both attached now.
test('with two processes attached, Watch in a file of A goes to A although B is current', async () => {
  await wb.step('right-process', async () => {
    await wb.openFile('shop/orders.py');
    await wb.editorContextMenu(13, 'PyFlight: Watch This Function'); // inside total_price()
    await wb.page.waitForFunction((el) => el.value === 'shop.orders total_price -n 10', await wb.quickInputBox.elementHandle(), { timeout: 30000 });
    await wb.quickInput.getByText(`PyFlight: Watch in process ${service.pid}`).waitFor();
    await wb.screenshot('watch-goes-to-importer');
    await wb.quickInputEnter('shop.orders total_price -n 3');
    await wb.openView('PyFlight');
    await wb.treeRow('Watch', /3 calls · ended: limit 3 reached/).waitFor({ timeout: 30000 });
    // B is still the current one: routing by file does not change the user's choice.
    await wb.page.locator('.statusbar-item', { hasText: `PyFlight: lock_contention.py ${lockTarget.pid}` }).waitFor();
  });
});

test('the status bar names the current process; clicking it chooses another', async () => {
  await wb.step('choose-session', async () => {
    await wb.page.locator('.statusbar-item', { hasText: `PyFlight: lock_contention.py ${lockTarget.pid}` }).click();
    const rows = await wb.quickPickItems();
    assert.ok(rows.some((r) => r.includes(`lock_contention.py (pid ${lockTarget.pid})`) && /attached · (read-only|agent loaded) · Python 3[\d.]+ · current/.test(r)), rows.join(' | '));
    await wb.quickPickSelect(`busy_service.py (pid ${service.pid})`);
    await wb.page.locator('.statusbar-item', { hasText: `PyFlight: busy_service.py ${service.pid}` }).waitFor();
    await wb.screenshot('status-bar-session');
    // No file, two attached: asked (never the current one silently), the current one first: one Enter.
    const showStacksOfCurrent = async (script, pid) => {
      await wb.runCommand('PyFlight: Show Stacks');
      const offered = await wb.quickPickItems();
      assert.equal(offered.length, 2, offered.join(' | '));
      assert.ok(offered[0].includes(`${script} (pid ${pid})`) && offered[0].includes('current'), offered.join(' | '));
      await wb.page.keyboard.press('Enter');
    };
    await showStacksOfCurrent('busy_service.py', service.pid);
    await wb.treeRow('Stacks', 'request-worker').waitFor({ timeout: 30000 });
    // Selecting a session in the Sessions view chooses it too.
    await wb.treeRow('Sessions', `lock_contention.py (pid ${lockTarget.pid})`).click();
    await wb.page.locator('.statusbar-item', { hasText: `PyFlight: lock_contention.py ${lockTarget.pid}` }).waitFor();
    await showStacksOfCurrent('lock_contention.py', lockTarget.pid);
    await wb.treeRow('Stacks', 'in wait_for_lock · 3 threads').waitFor({ timeout: 30000 });
  });
});

test('the Detach picker describes sessions in the Sessions view words', async () => {
  await wb.step('detach-words', async () => {
    await wb.runCommand('PyFlight: Detach');
    const rows = await wb.quickPickItems();
    assert.equal(rows.length, 3, rows.join(' | ')); // two attached, and the one whose process exited
    for (const row of rows) assert.match(row, /(attached|process exited) · (read-only · |agent loaded · )?Python 3\.\d+/);
    assert.ok(!rows.some((r) => /\bready\b|targetExited/.test(r)), rows.join(' | '));
    await wb.screenshot('detach-picker');
    await wb.page.keyboard.press('Escape');
  });
});

test('most threads running code: the Stacks view says one snapshot is not a profile', async () => {
  await wb.step('not-a-profile', async () => {
    const target = await startTarget('cpu_workers.py');
    await wb.runCommand('PyFlight: Attach to Process…');
    await wb.quickPickSelect(`PID ${target.pid} `, { type: String(target.pid) });
    const note = wb.treeRow('Stacks', 'One snapshot is not a profile');
    await note.waitFor({ timeout: 30000 });
    assert.match(await note.innerText(), /most threads are running code · Refresh a few times, or Trace/);
    assert.ok(await labelFits(note));
    // The crunchers are one group when caught at the same line, else rows of their own: running either way.
    await wb.treeRow('Stacks', /in crunch · (\d threads|cruncher-\d)\s*running/).waitFor();
    await wb.screenshot('not-a-profile');
  });
});
