// Issue 9 (console, evaluate, reload) end to end: open the console in a live process, type 1+1,
// see 2, define a function over several lines; evaluate from the palette; edit a function in the
// editor (unsaved) → Reload This Function → the diff and the confirmation → the process prints the
// new text → Watch It; save another edit → the Reload CodeLens appears → click it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, launchWorkbench } from './lib/workbench.mjs';
import { startTarget, stopTargets } from './lib/targets.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let wb;
let service;
const settingsFile = join(env.data, 'User', 'settings.json');
const original = readFileSync(settingsFile, 'utf8');
const fixture = join(env.ws, 'live_service.py');
const fixtureText = readFileSync(fixture, 'utf8');

before(async () => {
  service = await startTarget('live_service.py');
  // The DOM renderer, so the terminal's text can be read from the page.
  writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(original), 'terminal.integrated.gpuAcceleration': 'off' }, null, 2));
  wb = await launchWorkbench('live');
  await wb.executeCommand('pyflight.attach', service.pid);
});
after(async () => {
  writeFileSync(settingsFile, original);
  writeFileSync(fixture, fixtureText);
  await wb?.close();
  stopTargets();
});

/** The visible text of the active terminal, rows joined by newlines. */
async function terminalText() {
  const rows = wb.page.locator('.terminal-wrapper.active .xterm-rows, .xterm-rows').last();
  const text = (await rows.innerText()).replace(/\u00a0/g, ' ');
  return text.split('\n').map((l) => l.trimEnd()).join('\n').trimEnd(); // rows are padded to the terminal width
}

async function waitForTerminal(re, timeout = 20000) {
  const start = Date.now();
  let text = '';
  while (Date.now() - start < timeout) {
    text = await terminalText().catch(() => '');
    if (re.test(text)) return text;
    await sleep(200);
  }
  assert.fail(`terminal never matched ${re}:\n${text}`);
}

async function confirmDialog(button, expect) {
  const dialog = wb.page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: 20000 });
  const text = await dialog.innerText();
  if (expect) assert.match(text, expect);
  return { dialog, text, click: async () => {
    await dialog.locator('.monaco-button', { hasText: new RegExp(`^${button}$`) }).click();
    await dialog.waitFor({ state: 'hidden' });
  } };
}

test('Open Console in Process: warning, 1+1 → 2, a multi-line def, Ctrl+C, exit()', async () => {
  await wb.step('console', async () => {
    await wb.runCommand('PyFlight: Open Console in Process');
    const consent = await confirmDialog('Run in Process', new RegExp(`Run code inside process ${service.pid}\\?`));
    assert.match(consent.text, /not sandboxed/);
    await wb.screenshot('console-consent');
    await consent.click();
    await waitForTerminal(/runs inside the live process[\s\S]*>>>$/);
    await wb.page.keyboard.type('1+1');
    await wb.page.keyboard.press('Enter');
    await waitForTerminal(/>>> 1\+1\n2\n>>>/);
    for (const line of ['def double(x):', '    return x * 2', '']) {
      await wb.page.keyboard.type(line);
      await wb.page.keyboard.press('Enter');
    }
    await wb.page.keyboard.type('double(21)');
    await wb.page.keyboard.press('Enter');
    await waitForTerminal(/\.\.\.\n>>> double\(21\)\n42\n>>>/);
    await wb.page.keyboard.type('not finished');
    await wb.page.keyboard.press('Control+C');
    await waitForTerminal(/not finished\^C\n>>>/);
    await wb.page.keyboard.press('ArrowUp'); // history: the last line run
    await waitForTerminal(/>>> double\(21\)$/);
    await wb.screenshot('console');
    await wb.page.keyboard.press('Control+U');
    await wb.page.keyboard.type('exit()');
    await wb.page.keyboard.press('Enter');
    await waitForTerminal(/Console closed \(exit\(\)\)/);
    // The process goes on printing to its own stdout, nothing of the console in it.
    const before = service.output().length;
    await sleep(500);
    const after = service.output().slice(before);
    assert.match(after, /out hello \d+ \| greet \d+/);
    assert.doesNotMatch(service.output(), /double|^42$/m);
  });
});

test('PyFlight Terminal: flight-profiler\'s own CLI on the session, with the session\'s interpreter', async () => {
  await wb.step('terminal', async () => {
    await wb.runCommand('PyFlight: Open PyFlight Terminal (flight-profiler CLI)');
    // The CLI needs a TCP port of the agent: a modal says what it exposes before it opens.
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 20000 });
    assert.match(await dialog.innerText(), /TCP port[\s\S]*127\.0\.0\.1[\s\S]*closes when the terminal closes/);
    await dialog.locator('.monaco-button', { hasText: /^Open Port and Terminal$/ }).click();
    await dialog.waitFor({ state: 'hidden' });
    await waitForTerminal(new RegExp(`pid: ${service.pid}[\\s\\S]*❯`), 30000);
    await wb.page.keyboard.type('getglobal __main__ COUNTER');
    await wb.page.keyboard.press('Enter');
    await waitForTerminal(/"ticks": \d+/, 20000);
    await wb.screenshot('profiler-terminal');
    await wb.page.keyboard.type('quit');
    await wb.page.keyboard.press('Enter');
    // quit is not a failure: no "terminated with exit code" alert (upstream's CLI exits 1 on quit).
    await sleep(1500);
    assert.deepEqual((await wb.notifications()).filter((t) => /terminated with exit code/.test(t)), []);
    await wb.focusWorkbench();
  });
});

test('Evaluate in Process from the palette shows the value with Copy', async () => {
  await wb.step('evaluate', async () => {
    await wb.runCommand('PyFlight: Evaluate in Process…');
    await wb.quickInputEnter('COUNTER["ticks"] > 0, greeting(7)');
    await wb.waitForNotification(/Process \d+: tuple: \(True, 'hello 7'\)/, { timeout: 20000 });
    await wb.screenshot('evaluate');
    await wb.clearNotifications();
    await wb.runCommand('PyFlight: Evaluate in Process…');
    await wb.quickInputEnter('1/0');
    await wb.waitForNotification(/Raised in process \d+: ZeroDivisionError: division by zero/, { timeout: 20000 });
    await wb.screenshot('evaluate-error');
    await wb.clearNotifications();
    // On a selection: the selected text is the expression.
    await wb.openFile('live_service.py');
    await wb.goToLine(26); // GREETER = Greeter()
    await wb.page.keyboard.press('Home');
    await wb.page.keyboard.press('Shift+Control+ArrowRight');
    // (a right-click here would move the cursor off the selection: the palette runs the same command)
    await wb.runCommand('PyFlight: Evaluate Selection in Process');
    await wb.waitForNotification(/Process \d+: Greeter: <__main__\.Greeter object at 0x[0-9a-f]+>/, { timeout: 20000 });
    await wb.screenshot('evaluate-selection');
    await wb.clearNotifications();
    // A long one shows progress; Cancel interrupts it inside the process, which goes on.
    await wb.runCommand('PyFlight: Evaluate in Process…');
    await wb.quickInputEnter('while True: pass');
    await wb.clickNotificationButton(/Evaluating in process \d+/, 'Cancel', { timeout: 10000 });
    await wb.waitForNotification(/Raised in process \d+: KeyboardInterrupt/, { timeout: 20000 });
    await wb.screenshot('evaluate-cancelled');
    // The process goes on: it prints again (polled: a busy machine can take seconds to schedule it).
    const before = service.output().length;
    for (let i = 0; i < 150 && !/out hello \d+/.test(service.output().slice(before)); i++) await sleep(100);
    assert.match(service.output().slice(before), /out hello \d+/, service.output().slice(-1500));
    await wb.clearNotifications();
  });
});

test('Reload This Function: edit (unsaved) → diff and confirmation → the process runs the new code → Watch It', async () => {
  await wb.step('reload', async () => {
    await wb.openFile('live_service.py');
    await wb.goToLine(16);
    await wb.page.keyboard.press('End');
    await wb.page.keyboard.press('Shift+Home');
    await wb.page.keyboard.type('return "HELLO %d" % n');
    await wb.editorContextMenu(16, 'PyFlight: Reload This Function in Process');
    const confirm = await confirmDialog('Reload', new RegExp(`Reload __main__\\.greeting in process ${service.pid}\\?`));
    assert.match(confirm.text, /cannot add globals or imports/);
    await wb.page.locator('.tabs-container .tab', { hasText: /running in \d+ ↔ editor/ }).first().waitFor();
    await wb.screenshot('reload-confirm');
    await confirm.click();
    await wb.waitForNotification(/Reloaded __main__\.greeting in process \d+/, { timeout: 20000 });
    const before = service.output().length;
    await sleep(500);
    assert.match(service.output().slice(before), /out HELLO \d+ \| greet \d+/);
    await wb.screenshot('reloaded');
    await wb.clickNotificationButton(/Reloaded __main__\.greeting/, 'Watch It');
    await wb.quickInputBox.waitFor();
    assert.equal(await wb.quickInputBox.inputValue(), '__main__ greeting -n 10');
    await wb.quickInputEnter('__main__ greeting -n 2 --expr return_obj');
    await wb.openView('PyFlight');
    await wb.treeRow('Watch', /2 calls · ended: limit 2 reached/).waitFor({ timeout: 30000 });
    const record = wb.view('Watch').locator('.monaco-list-row', { hasText: /HELLO \d+/ }).first();
    await record.waitFor({ timeout: 10000 });
    await wb.screenshot('reload-watched');
  });
});

test('a saved edit that differs from the running code gets a Reload CodeLens', async () => {
  await wb.step('lens', async () => {
    await wb.openFile('live_service.py');
    await wb.goToLine(23); // inside Greeter.greet
    await wb.page.keyboard.press('End');
    await wb.page.keyboard.press('Shift+Home');
    await wb.page.keyboard.type('return "%s! %d" % (self.prefix.upper(), n)');
    await wb.page.keyboard.press('Control+S');
    const lens = wb.page.locator('.codelens-decoration', { hasText: new RegExp(`Reload in process ${service.pid}`) });
    await lens.first().waitFor({ timeout: 20000 });
    await wb.screenshot('reload-lens');
    // greeting was reloaded from the editor's text, which is saved now too: only greet differs.
    assert.equal(await lens.count(), 1);
    await lens.locator('a').first().click();
    const confirm = await confirmDialog('Reload', /Reload __main__\.Greeter\.greet in process/);
    await confirm.click();
    await wb.waitForNotification(/Reloaded __main__\.Greeter\.greet/, { timeout: 20000 });
    const before = service.output().length;
    await sleep(500);
    assert.match(service.output().slice(before), /out HELLO \d+ \| GREET! \d+/);
    await lens.first().waitFor({ state: 'detached', timeout: 20000 });
  });
});
