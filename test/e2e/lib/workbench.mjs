// Playwright helpers for the e2e tests: one Chromium + one VS Code web workbench (code-server, started
// by test/e2e/run.mjs) per test file.
//
//   import { launchWorkbench } from './lib/workbench.mjs';
//   const wb = await launchWorkbench('smoke');     // browser + workbench of the E2E_WS folder
//   await wb.runCommand('PyFlight: Attach to Process…');
//   await wb.quickPickSelect('busy_service.py');
//   await wb.waitForNotification('Attached');
//   await wb.screenshot('attached');               // $ARTIFACTS/smoke-attached.png
//   await wb.close();
//
// Env (set by run.mjs): CS_PORT, E2E_WS, E2E_OUT, E2E_DATA, ARTIFACTS, NODE_PATH (playwright-core).
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/** playwright-core from NODE_PATH (ESM imports ignore NODE_PATH, require() honours it), else <repo>/.e2e. */
function loadPlaywright() {
  try {
    return createRequire(import.meta.url)('playwright-core');
  } catch {
    return createRequire(join(repoRoot, '.e2e', 'node_modules', 'noop.js'))('playwright-core');
  }
}
export const { chromium } = loadPlaywright();

export const env = {
  port: process.env.CS_PORT,
  ws: process.env.E2E_WS,
  out: process.env.E2E_OUT,
  data: process.env.E2E_DATA,
  artifacts: process.env.ARTIFACTS || join(repoRoot, 'artifacts', 'e2e'),
};
if (!env.port || !env.ws || !env.out) {
  throw new Error('CS_PORT, E2E_WS and E2E_OUT are not set: run the e2e tests with `node test/e2e/run.mjs`');
}

export const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Whole-text, case-sensitive match for hasText (hasText with a string is a case-insensitive substring). */
export const exactly = (text) => new RegExp(`^\\s*${escapeRe(text)}\\s*$`);

/**
 * Launches Chromium (fresh profile) and opens the workbench on `folder` (default E2E_WS).
 * `name` prefixes screenshots and the browser-console log written on close().
 */
export async function launchWorkbench(name = 'e2e', { folder = env.ws, clearMarkers = true } = {}) {
  const wb = new Workbench(name, folder);
  await wb.start({ clearMarkers });
  return wb;
}

export class Workbench {
  constructor(name, folder) {
    this.name = name;
    this.folder = folder;
    this.url = `http://127.0.0.1:${env.port}/?folder=${encodeURIComponent(folder)}`;
    /** browser console messages (errors and warnings) and page errors, dumped on close() */
    this.console = [];
    this.context = null;
    this.page = null;
  }

  async start({ clearMarkers = true } = {}) {
    this.profile = mkdtempSync(join(tmpdir(), 'pyflight-e2e-chromium-'));
    this.context = await chromium.launchPersistentContext(this.profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 900 },
      // Chromium writes crash-report settings and dconf files under the XDG dirs whatever the profile
      env: { ...process.env, XDG_CONFIG_HOME: join(this.profile, '.config'), XDG_CACHE_HOME: join(this.profile, '.cache') },
    });
    this.context.setDefaultTimeout(15000);
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
    this.page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') this.console.push(`[${m.type()}] ${m.text()}`);
    });
    this.page.on('pageerror', (e) => this.console.push(`[pageerror] ${e.message}`));
    await this.reload({ clearMarkers });
  }

  /**
   * (Re)opens the workbench and waits until startup has finished (the chat-harness extension,
   * activated onStartupFinished, has written harness-activated.json). Each page load starts a fresh
   * extension host: the previous one is killed and the markers are cleared first.
   */
  async reload({ clearMarkers = true } = {}) {
    await this.killExtensionHost();
    if (clearMarkers) this.clearMarkers();
    else this.removeMarker('harness-activated.json');
    await this.page.goto(this.url);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
    // the activity bar and status bar are rendered once the workbench has restored its parts
    await this.page.locator('.part.activitybar').waitFor({ timeout: 60000 });
    await this.page.locator('.part.statusbar').waitFor({ timeout: 60000 });
    this.extHostPid = (await this.waitForMarker('harness-activated.json', { timeout: 60000 })).pid;
  }

  /**
   * Kills the extension host of the current page load. code-server keeps a disconnected extension
   * host alive for minutes (waiting for a reconnection), with the extension under test still
   * running in it; close() and reload() therefore kill it (SIGTERM: extensions are not deactivated).
   */
  async killExtensionHost() {
    const pid = this.extHostPid;
    this.extHostPid = undefined;
    if (!pid) return;
    const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
    try { process.kill(pid, 'SIGTERM'); } catch { return; }
    for (let i = 0; i < 30 && alive(); i++) await sleep(100);
    if (alive()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }

  // ---- quick input: command palette, quick picks, quick open ------------------------------------

  get quickInput() { return this.page.locator('.quick-input-widget'); }
  get quickInputBox() { return this.quickInput.locator('.quick-input-box input'); }
  quickInputRows() { return this.quickInput.locator('.quick-input-list .monaco-list-row'); }

  async #openPalette(prefix) {
    for (let attempt = 1; ; attempt++) {
      if (await this.quickInput.isVisible()) {
        await this.page.keyboard.press('Escape');
        await this.quickInput.waitFor({ state: 'hidden' });
      }
      await this.page.keyboard.press('F1');
      try {
        await this.quickInputBox.waitFor({ state: 'visible', timeout: 5000 });
      } catch (error) {
        // F1 went to something that swallowed it (the workbench still settling after a page load or
        // an attach, CI once): give the workbench the keyboard and press it again.
        if (attempt === 3) throw error;
        await this.focusWorkbench();
        continue;
      }
      try {
        await this.quickInputBox.fill(prefix);
        return;
      } catch (error) {
        // The tree view a command focused (Stacks, after attach) can take the DOM focus a frame after
        // the command returned, which closes a palette opened in between (CI, once): open it again.
        if (attempt === 3 || (await this.quickInput.isVisible())) throw error;
      }
    }
  }

  /** The palette row whose label is exactly `title` (e.g. 'PyFlight: Attach to Process…'). */
  #commandRow(title) {
    return this.quickInputRows().filter({ has: this.page.locator('.label-name', { hasText: exactly(title) }) });
  }

  /** Runs a command by its palette title ("Category: Title"), via F1. */
  async runCommand(title, { timeout = 10000 } = {}) {
    await this.#openPalette('>' + title);
    const row = this.#commandRow(title).first();
    await row.waitFor({ timeout });
    await row.click();
  }

  /** Whether the palette lists `title` (leaves the palette closed). */
  async hasCommand(title, { timeout = 5000 } = {}) {
    await this.#openPalette('>' + title);
    let found = true;
    try { await this.#commandRow(title).first().waitFor({ timeout }); } catch { found = false; }
    await this.page.keyboard.press('Escape');
    return found;
  }

  /**
   * Picks the row containing `text` in the open quick pick / quick input. By default types `text`
   * into the filter box first; pass { type: false } for pickers that do not filter on that text
   * (e.g. text in a row's description or detail), or { type: 'other filter' }.
   */
  async quickPickSelect(text, { type = true, timeout = 15000 } = {}) {
    await this.quickInputBox.waitFor({ state: 'visible', timeout });
    if (type !== false) await this.quickInputBox.fill(typeof type === 'string' ? type : text);
    const row = this.quickInputRows().filter({ hasText: text }).first();
    await row.waitFor({ timeout });
    await row.click();
  }

  /** Texts of the rows currently shown in the quick input. */
  async quickPickItems() {
    await this.quickInputRows().first().waitFor();
    return (await this.quickInputRows().allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
  }

  /** Answers an input box (showInputBox) with `value` and Enter. */
  async quickInputEnter(value, { timeout = 30000 } = {}) {
    // The palette's box hides while the command's own input opens (ci64, a loaded host: "element is
    // not visible" for 15 s): fill the next visible one.
    const end = Date.now() + timeout;
    for (;;) {
      await this.quickInputBox.waitFor({ state: 'visible', timeout: Math.max(1000, end - Date.now()) });
      try {
        await this.quickInputBox.fill(value, { timeout: 3000 });
        break;
      } catch (error) {
        if (Date.now() > end) throw error;
      }
    }
    await this.page.keyboard.press('Enter');
  }

  /** Opens a workspace file by its path relative to E2E_WS through quick open (Ctrl+P); waits for its editor. */
  async openFile(relativePath, { timeout = 20000 } = {}) {
    const base = relativePath.split('/').pop();
    if (await this.quickInput.isVisible()) await this.page.keyboard.press('Escape');
    await this.focusWorkbench();
    await this.page.keyboard.press('Control+P');
    await this.quickInputBox.waitFor({ state: 'visible' });
    await this.quickInputBox.fill(relativePath);
    // rows show the file name and its folder ("busy_service.py  shop/…"); prefer the exact path
    const rows = this.quickInputRows().filter({ has: this.page.locator('.label-name', { hasText: exactly(base) }) });
    const dir = relativePath.includes('/') ? relativePath.slice(0, relativePath.lastIndexOf('/')) : '';
    const row = (dir ? rows.filter({ hasText: dir }) : rows).first();
    await row.waitFor({ timeout });
    await row.click();
    await this.activeEditorTab(base).waitFor({ timeout });
    await this.page.locator('.editor-group-container.active .monaco-editor .view-lines').first().waitFor({ timeout });
  }

  /** The active editor tab with label `label`. */
  activeEditorTab(label) {
    return this.page.locator('.tabs-container .tab.active', { has: this.page.locator('.label-name', { hasText: exactly(label) }) });
  }

  /**
   * Clicks the status bar so keyboard shortcuts go to the workbench (not a webview or the quick
   * input), in its widest gap between items: a fixed spot can land on an item (and toggle it) when
   * items change width, e.g. with a long process name.
   */
  async focusWorkbench() {
    const bar = this.page.locator('.part.statusbar');
    const x = await bar.evaluate((el) => {
      const box = el.getBoundingClientRect();
      const items = [...el.querySelectorAll('.statusbar-item')].map((i) => i.getBoundingClientRect())
        .filter((r) => r.width > 0).map((r) => [r.left - box.left, r.right - box.left]).sort((a, b) => a[0] - b[0]);
      let best = [0, 0];
      let from = 0;
      for (const [left, right] of [...items, [box.width, box.width]]) {
        if (left - from > best[1] - best[0]) best = [from, left];
        from = Math.max(from, right);
      }
      return (best[0] + best[1]) / 2;
    }).catch(() => 700);
    await bar.click({ position: { x, y: 5 } }).catch(() => {});
  }

  /** Waits (at most `timeout` ms) until `locator`'s box and opacity stop changing (CSS transitions). */
  async #settle(locator, timeout = 2000) {
    const start = Date.now();
    let last = '';
    while (Date.now() - start < timeout) {
      const now = await locator.evaluate((el) => {
        const r = el.getBoundingClientRect();
        let o = 1;
        for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
        return JSON.stringify([r.x, r.y, r.width, r.height, o]);
      }).catch(() => '');
      if (now && now === last && JSON.parse(now)[4] === 1) return;
      last = now;
      await sleep(100);
    }
  }

  // ---- editor -----------------------------------------------------------------------------------

  /** Moves the cursor of the active editor to `line` (1-based), optionally `column`, via Go to Line (Ctrl+G). */
  async goToLine(line, column) {
    await this.runCommand('Go to Line/Column...');
    await this.quickInputBox.fill(':' + line + (column ? ':' + column : ''));
    await this.page.keyboard.press('Enter');
    await this.quickInput.waitFor({ state: 'hidden' });
    await this.page.locator('.part.statusbar .statusbar-item', { hasText: new RegExp(`Ln ${line}, Col ${column ?? '\\d+'}\\b`) }).first().waitFor();
  }

  /**
   * Opens the editor context menu on `line` of the active editor and picks `item`. Note: context
   * menus show command titles without their category ('Watch This Function', not 'PyFlight: …').
   */
  async editorContextMenu(line, item) {
    await this.goToLine(line);
    const current = this.page.locator('.editor-group-container.active .monaco-editor .view-overlays .current-line').first();
    await current.waitFor();
    // The editor re-renders its overlays (e.g. right after opening): the element can detach between
    // waitFor and boundingBox, which is then null; look again.
    let box = await current.boundingBox();
    for (let i = 0; i < 20 && !box; i++) {
      await sleep(100);
      box = await current.boundingBox();
    }
    const text = await this.page.locator('.editor-group-container.active .monaco-editor .view-lines').first().boundingBox();
    // click right of the line start, inside the text area (not in the gutter)
    await this.page.mouse.click(text.x + 40, box.y + box.height / 2, { button: 'right' });
    await this.contextMenuSelect(item);
  }

  // ---- notifications ----------------------------------------------------------------------------

  /**
   * Waits for a notification toast containing `text` (string: case-insensitive substring, or RegExp).
   * VS Code shows at most three toasts and hides the rest in the Notification Center: a notification
   * that never appears as a toast is looked for there before the wait fails (ci39 waited 60 s for an
   * error toast that never showed).
   */
  async waitForNotification(text, { timeout = 15000 } = {}) {
    const container = this.page.locator('.notifications-toasts .notification-toast-container', { hasText: text }).first();
    try {
      await container.waitFor({ timeout: Math.max(1000, timeout - 8000) });
    } catch (error) {
      await this.executeCommandWithTimeout(5000, 'notifications.showList').catch(() => undefined);
      const listed = this.page.locator('.notifications-center .notification-list-item', { hasText: text }).first();
      if (!(await listed.waitFor({ timeout: 3000 }).then(() => true, () => false))) throw error;
      return listed;
    }
    const toast = container.locator('.notification-toast');
    await this.#settle(toast.locator('.notification-list-item').first()); // let the slide-in transition finish
    return toast;
  }

  /** Clicks a button (e.g. 'Install', 'Retry') in the notification toast containing `text`. */
  async clickNotificationButton(text, button, { timeout = 15000 } = {}) {
    const toast = await this.waitForNotification(text, { timeout });
    await toast.locator('.monaco-button', { hasText: exactly(button) }).click();
  }

  /** Texts of all notification toasts currently shown. */
  async notifications() {
    return (await this.page.locator('.notifications-toasts .notification-toast').allInnerTexts()).map((t) => t.trim());
  }

  /** Dismisses all notifications (toasts and the notification center). */
  async clearNotifications() {
    await this.executeCommandWithTimeout(10000, 'notifications.clearAll')
      .catch(() => this.runCommand('Notifications: Clear All Notifications'));
    await this.page.locator('.notifications-toasts .notification-toast-container').first().waitFor({ state: 'detached', timeout: 5000 }).catch(() => {});
  }

  // ---- views ------------------------------------------------------------------------------------

  /** The activity bar entry of a view container (e.g. 'PyFlight', 'Explorer'). */
  activityBarItem(containerTitle) {
    return this.page.locator('.part.activitybar .action-item', {
      has: this.page.locator(`.action-label[aria-label="${containerTitle}"], .action-label[aria-label^="${containerTitle} ("]`),
    }).first();
  }

  /** Shows the view container `containerTitle` in the side bar (clicks its activity bar entry unless already shown). */
  async openView(containerTitle, { timeout = 15000 } = {}) {
    const item = this.activityBarItem(containerTitle);
    await item.waitFor({ timeout });
    const title = this.page.locator('.part.sidebar .composite.title h2', { hasText: exactly(containerTitle) });
    const shown = (await item.getAttribute('class'))?.split(/\s+/).includes('checked') && (await title.isVisible());
    if (!shown) {
      await item.click();
      await this.page.mouse.move(300, 16); // off the activity bar: no tooltip in screenshots
    }
    await title.waitFor({ timeout });
  }

  /** The pane of view `viewTitle` (e.g. 'Sessions') in the side bar or panel. */
  view(viewTitle) {
    return this.page.locator('.pane', { has: this.page.locator('.pane-header .title', { hasText: exactly(viewTitle) }) }).first();
  }

  /** Titles of the views (pane headers) in the side bar. */
  async sideBarViewTitles() {
    // textContent, not innerText: pane titles are upper-cased by CSS
    return (await this.page.locator('.part.sidebar .pane-header .title').allTextContents()).map((t) => t.trim());
  }

  /** Expands a collapsed view pane. */
  async expandView(viewTitle) {
    const header = this.view(viewTitle).locator('.pane-header');
    if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
  }

  /** The welcome content of view `viewTitle` (viewsWelcome). */
  welcome(viewTitle) {
    return this.view(viewTitle).locator('.welcome-view-content');
  }

  /** A tree row of view `viewTitle` containing `text` (string: case-insensitive substring, or RegExp). */
  treeRow(viewTitle, text) {
    return this.view(viewTitle).locator('.monaco-list-row', { hasText: text }).first();
  }

  /**
   * Like treeRow(), but scrolls the view's tree until such a row is rendered and resolves with it.
   * Trees are virtualised: only the rows in the visible part of a (small) pane exist in the DOM, so
   * `treeRow(...).waitFor()` never sees a row that is scrolled out of view.
   */
  async revealTreeRow(viewTitle, text, { timeout = 15000 } = {}) {
    const row = this.treeRow(viewTitle, text);
    const list = this.view(viewTitle).locator('.monaco-list').first();
    const lastIndex = () => list.evaluate((el) => Math.max(-1, ...[...el.querySelectorAll('.monaco-list-row')].map((r) => Number(r.dataset.index ?? -1))));
    const start = Date.now();
    while (Date.now() - start < timeout) {
      if (await row.count()) return row;
      if (!(await list.count())) { await sleep(200); continue; }
      const box = await list.boundingBox();
      if (!box) { await sleep(200); continue; }
      await this.page.mouse.move(box.x + box.width / 2, box.y + Math.min(box.height / 2, 40));
      const before = await lastIndex();
      await this.page.mouse.wheel(0, Math.max(40, box.height * 0.8));
      await sleep(80);
      if ((await lastIndex()) === before) {
        // at the bottom (or nothing to scroll): back to the top and give the view time to fill
        await this.page.mouse.wheel(0, -1e6);
        await sleep(250);
      }
    }
    // one more look, then fail the way waitFor does
    await row.waitFor({ timeout: 100 });
    return row;
  }

  /** Expands the tree row of view `viewTitle` containing `text` unless it is expanded already. */
  async expandTreeRow(viewTitle, text) {
    const row = await this.revealTreeRow(viewTitle, text, { timeout: 30000 }); // scrolled out of view by an earlier test, maybe
    if ((await row.getAttribute('aria-expanded')) === 'false') await row.locator('.monaco-tl-twistie').click();
    await this.page.waitForFunction((el) => el.getAttribute('aria-expanded') !== 'false', await row.elementHandle());
  }

  /** Labels of the visible tree rows of view `viewTitle`. */
  async treeRows(viewTitle) {
    return (await this.view(viewTitle).locator('.monaco-list-row').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
  }

  /** Runs an inline action (hover icon) of a tree row, by the action's title (e.g. 'Detach'). */
  async treeRowAction(viewTitle, rowText, actionTitle) {
    const row = this.treeRow(viewTitle, rowText);
    await row.hover();
    const action = row.locator(`.action-label[aria-label^="${actionTitle}"]`);
    await action.waitFor({ state: 'visible' });
    await action.click();
  }

  /**
   * Runs a row's inline action until `done` resolves: a tree that re-renders (a refresh after the
   * previous step) can swallow the click, which a user would simply repeat.
   */
  async treeRowActionUntil(viewTitle, rowText, actionTitle, done, attempts = 3) {
    for (let i = 1; ; i++) {
      await this.treeRowAction(viewTitle, rowText, actionTitle);
      try {
        return await done(i < attempts ? 8000 : 20000);
      } catch (error) {
        if (i >= attempts) throw error;
      }
    }
  }

  /** Opens the context menu of a tree row and picks `item`. */
  async treeRowContextMenu(viewTitle, rowText, item) {
    await this.treeRow(viewTitle, rowText).click({ button: 'right' });
    await this.contextMenuSelect(item);
  }

  /** Picks `item` in the open context menu. */
  async contextMenuSelect(item) {
    const menu = this.page.locator('.context-view .monaco-menu');
    await menu.waitFor();
    const entry = menu.locator('.action-item', { has: this.page.locator('.action-label', { hasText: exactly(item) }) }).first();
    try {
      await entry.waitFor({ timeout: 5000 });
    } catch {
      const items = (await menu.locator('.action-item .action-label').allTextContents()).map((t) => t.trim()).filter(Boolean);
      await this.page.keyboard.press('Escape');
      throw new Error(`context menu has no item "${item}"; it has: ${items.join(' | ')}`);
    }
    // A menu ignores a click that comes right after it opened: hover first, click, and fall back to
    // Enter on the (hovered = focused) item if the menu is still open.
    await entry.hover();
    await sleep(150);
    await entry.click();
    try {
      await menu.waitFor({ state: 'hidden', timeout: 1000 });
    } catch {
      await entry.hover();
      await this.page.keyboard.press('Enter');
      await menu.waitFor({ state: 'hidden', timeout: 5000 });
    }
  }

  /** A title-bar action of view `viewTitle` (view/title menu), by title. */
  viewAction(viewTitle, actionTitle) {
    return this.view(viewTitle).locator(`.pane-header .actions .action-label[aria-label^="${actionTitle}"]`);
  }

  // ---- chat -------------------------------------------------------------------------------------

  /**
   * Sends `prompt` (e.g. '@pyflight why is it slow?') from the Chat view and resolves with the locator
   * of the newest response, once it contains `expect` (string or RegExp) if given. Language-model
   * requests are answered by the chat-harness fake model ('FAKE-LM echo: …').
   */
  async askChat(prompt, { expect, timeout = 30000 } = {}) {
    const before = await this.page.locator('.interactive-response').count();
    await this.runCommand('Chat: Focus on Chat View');
    const input = this.page.locator('.interactive-input-part .monaco-editor').first();
    await input.waitFor();
    await input.click();
    await this.page.keyboard.type(prompt);
    await this.page.keyboard.press('Enter');
    const response = this.page.locator('.interactive-response').nth(before);
    await response.waitFor({ timeout });
    if (expect) await this.page.locator('.interactive-response', { hasText: expect }).nth(0).waitFor({ timeout });
    return response;
  }

  // ---- webviews ---------------------------------------------------------------------------------

  /** The content frame of the active webview (panel or view). */
  webview({ title } = {}) {
    const outer = title ? `iframe.webview.ready[title="${title}"]` : 'iframe.webview.ready';
    return this.page.frameLocator(outer).last().frameLocator('#active-frame');
  }

  // ---- markers (JSON files the extension writes into E2E_OUT) -----------------------------------

  clearMarkers() {
    if (!env.out || !existsSync(env.out)) return;
    for (const f of readdirSync(env.out)) rmSync(join(env.out, f), { recursive: true, force: true });
  }

  marker(name) {
    try { return JSON.parse(readFileSync(join(env.out, name), 'utf8')); } catch { return undefined; }
  }

  async waitForMarker(name, { timeout = 30000 } = {}) {
    const start = Date.now();
    while (Date.now() - start < timeout) {
      const m = this.marker(name);
      if (m !== undefined) return m;
      await sleep(200);
    }
    throw new Error(`timeout (${timeout} ms) waiting for marker ${name} in ${env.out}`);
  }

  removeMarker(name) { try { unlinkSync(join(env.out, name)); } catch { /* absent */ } }

  // ---- commands with arguments, through the chat-harness extension ------------------------------

  /**
   * Runs `vscode.commands.executeCommand(command, ...args)` inside the extension host (the chat-harness
   * test extension executes it) and resolves with its JSON-serialisable result; rejects with the
   * command's error. Arguments must be JSON values. Don't await it when the command waits for UI
   * (a quick pick, a modal): interact first, then await the promise.
   */
  async executeCommand(command, ...args) {
    return this.executeCommandWithTimeout(60000, command, ...args);
  }

  async executeCommandWithTimeout(timeout, command, ...args) {
    this.extHostPid ??= (await this.waitForMarker('harness-activated.json', { timeout: 60000 })).pid;
    const id = `${Date.now()}-${Math.random().toString(36).slice(2)}.json`;
    const reqDir = join(env.out, 'harness-requests');
    mkdirSync(reqDir, { recursive: true });
    writeFileSync(join(reqDir, id + '.tmp'), JSON.stringify({ command, args, pid: this.extHostPid }));
    renameSync(join(reqDir, id + '.tmp'), join(reqDir, id));
    const res = await this.waitForMarker(join('harness-results', id), { timeout });
    this.removeMarker(join('harness-results', id));
    if (!res.ok) throw new Error(`command ${command} failed in the extension host: ${res.error}`);
    return res.result;
  }

  // ---- logs -------------------------------------------------------------------------------------

  /**
   * The extension-host log (remoteexthost.log) of the current page load — or of all extension hosts
   * of this code-server run with { all: true }. Extension output channels are under the same dir.
   */
  extHostLog({ all = false } = {}) {
    if (!env.data) return '';
    const logs = join(env.data, 'logs');
    if (!existsSync(logs)) return '';
    const texts = readdirSync(logs, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('remoteexthost.log'))
      .map((f) => readFileSync(join(logs, f), 'utf8'));
    if (all || !this.extHostPid) return texts.join('\n');
    return texts.find((t) => t.includes(`Extension host with pid ${this.extHostPid} started`)) ?? '';
  }

  /**
   * Waits until the extension host has activated `extensionId` (e.g. 'pyflight.pyflight'); then, after
   * `settleMs`, returns { event, error }: the activation event and the logged activation error, if any.
   */
  async waitForActivation(extensionId, { timeout = 30000, settleMs = 1000 } = {}) {
    const start = Date.now();
    const re = new RegExp(`_doActivateExtension ${escapeRe(extensionId)}, startup: \\w+, activationEvent: '([^']*)'`);
    let m;
    while (!(m = re.exec(this.extHostLog())) && Date.now() - start < timeout) await sleep(200);
    if (!m) throw new Error(`${extensionId} was not activated within ${timeout} ms`);
    await sleep(settleMs);
    const log = this.extHostLog();
    const i = log.indexOf(`Activating extension ${extensionId} failed`);
    return { event: m[1], error: i < 0 ? null : log.slice(i, i + 2000) };
  }

  // ---- screenshots ------------------------------------------------------------------------------

  /** Saves a PNG of the page to $ARTIFACTS/<name>-<shot>.png and returns the path. */
  async screenshot(shot) {
    mkdirSync(env.artifacts, { recursive: true });
    const file = join(env.artifacts, `${this.name}-${shot.replace(/[^\w.-]+/g, '_')}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /** Runs `fn`, taking a screenshot named `<label>-FAILED` if it throws. */
  async step(label, fn) {
    try {
      return await fn();
    } catch (e) {
      await this.screenshot(`${label}-FAILED`).catch(() => {});
      throw e;
    }
  }

  async close() {
    try {
      if (this.console.length) {
        mkdirSync(env.artifacts, { recursive: true });
        writeFileSync(join(env.artifacts, `${this.name}-browser-console.log`), this.console.join('\n') + '\n');
      }
    } catch { /* best effort */ }
    await this.context?.close().catch(() => {});
    await this.killExtensionHost();
    if (this.profile) rmSync(this.profile, { recursive: true, force: true });
  }
}
