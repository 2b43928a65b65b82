// Starts code-server (VS Code 1.100.3, web workbench + Node extension host) with PyFlight installed
// from this checkout's .vsix, in a throw-away run dir. Shared by the e2e runner (test/e2e/run.mjs) and
// `npm run demo`. Needs test/e2e/setup.sh to have run (it installs code-server into .e2e/).
import { spawn, spawnSync } from 'node:child_process';
import { ensureVsix } from '../../../scripts/package.mjs';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../..', import.meta.url).pathname;
const e2eDir = join(root, '.e2e');
const harnessDir = join(root, 'test', 'e2e', 'extensions', 'chat-harness');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const harness = JSON.parse(readFileSync(join(harnessDir, 'package.json'), 'utf8'));

const SETTINGS = {
  'telemetry.telemetryLevel': 'off',
  // Flows load the agent without the consent dialog; attach.test.mjs turns it on to test the dialog.
  'pyflight.confirmAgentLoad': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'chat.disableAIFeatures': false,
  'git.enabled': false,
  'files.hotExit': 'off',
  'window.restoreWindows': 'none',
  'editor.minimap.enabled': false,
  // the profiler agent listens on a local port: no "Your application running on port … is available" toasts
  'remote.autoForwardPorts': false,
  'remote.restoreForwardedPorts': false,
};

export function freePort(preferred = 0) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => (preferred ? freePort(0).then(resolve) : resolve(0)));
    s.listen(preferred, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

const healthy = (port) => new Promise((resolve) => {
  get(`http://127.0.0.1:${port}/healthz`, (r) => { r.resume(); resolve(r.statusCode === 200); }).on('error', () => resolve(false));
});

function groupAlive(pgid) {
  try { process.kill(-pgid, 0); return true; } catch { return false; }
}

/**
 * @param {{ workspace?: string, port?: number, withHarness?: boolean, env?: object, runDir?: string }} options
 *   workspace: folder to open (default: an empty one in the run dir); port: preferred port (falls
 *   back to a free one); withHarness: also install the chat-harness test extension.
 * @returns the run dir layout, the URL, and stop() which kills code-server's whole process group.
 */
export async function startWorkbench({ workspace, port: preferred = 0, withHarness = false, env = {}, runDir } = {}) {
  const codeServer = join(e2eDir, 'node_modules', '.bin', 'code-server');
  if (!existsSync(codeServer)) throw new Error('code-server is not installed: run `bash test/e2e/setup.sh` (npm test does)');
  const run = runDir ?? mkdtempSync(join(tmpdir(), 'pyflight-workbench-'));
  const dirs = { ext: join(run, 'ext'), data: join(run, 'data'), config: join(run, 'config'), share: join(run, 'share'), cache: join(run, 'cache'), tmp: join(run, 'tmp'), out: join(run, 'out'), ws: workspace ?? join(run, 'ws') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  mkdirSync(join(dirs.data, 'User'), { recursive: true });

  // The test harness is copied first: the install below lists what it finds in extensions.json
  // (a folder copied in afterwards would be marked removed at start-up).
  if (withHarness) cpSync(harnessDir, join(dirs.ext, `${harness.publisher}.${harness.name}-${harness.version}`), { recursive: true });
  // PyFlight goes in as users get it: the .vsix `npm run package` builds, installed by code-server.
  const vsix = ensureVsix();
  const install = spawnSync(codeServer, ['--install-extension', vsix, '--force', '--extensions-dir', dirs.ext, '--user-data-dir', dirs.data],
    { cwd: run, encoding: 'utf8', timeout: 120_000,
      env: { ...process.env, XDG_CONFIG_HOME: dirs.config, XDG_DATA_HOME: dirs.share, XDG_CACHE_HOME: dirs.cache } });
  if (install.status !== 0) {
    throw new Error(`code-server --install-extension ${vsix} failed (${install.status ?? install.signal}): ${(install.stdout + install.stderr).slice(-1500)}`);
  }
  writeFileSync(join(dirs.data, 'User', 'settings.json'), JSON.stringify(SETTINGS, null, 2));

  const port = await freePort(preferred);
  const logFile = join(run, 'code-server.log');
  const out = openSync(logFile, 'a');
  const cs = spawn(codeServer, [
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    ...(withHarness ? ['--enable-proposed-api', `${harness.publisher}.${harness.name}`] : []),
    '--user-data-dir', dirs.data, '--extensions-dir', dirs.ext, dirs.ws,
  ], {
    cwd: run,
    detached: true, // own process group (setsid): the whole tree is killed by stop()
    stdio: ['ignore', out, out],
    // XDG dirs: code-server writes config.yaml and logs, the extension host a device id, not into ~
    env: { ...process.env, XDG_CONFIG_HOME: dirs.config, XDG_DATA_HOME: dirs.share, XDG_CACHE_HOME: dirs.cache, ...env },
  });
  let exited = false;
  cs.on('exit', () => { exited = true; });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try { process.kill(-cs.pid, 'SIGTERM'); } catch { /* gone */ }
    for (let i = 0; i < 50 && groupAlive(cs.pid); i++) await sleep(100);
    try { process.kill(-cs.pid, 'SIGKILL'); } catch { /* gone */ }
  };
  const killNow = () => { if (!stopped) { try { process.kill(-cs.pid, 'SIGKILL'); } catch { /* gone */ } } };

  const t0 = Date.now();
  let up = false;
  while (!up && !exited && Date.now() - t0 < 30000) {
    up = await healthy(port);
    if (!up) await sleep(150);
  }
  const workbench = { run, dirs, port, url: `http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.ws)}`, logFile,
    readyMs: Date.now() - t0, stop, killNow, get exited() { return exited; },
    remove: () => { try { rmSync(run, { recursive: true, force: true }); } catch { /* best effort */ } } };
  if (!up) {
    await stop();
    const error = new Error(`code-server did not come up on port ${port} (log: ${logFile})`);
    error.workbench = workbench;
    throw error;
  }
  return workbench;
}
