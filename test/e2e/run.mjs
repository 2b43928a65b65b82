// End-to-end lane: runs the built extension in a real VS Code workbench (code-server 4.100.3 =
// VS Code 1.100.3, web workbench + Node extension host), driven by playwright-core in Debian's
// Chromium, fully offline. Recipe: /work/shared/e2e-recipe.md (variant A).
//
//   node test/e2e/run.mjs [filter…] [--no-build] [--keep]
//
//   filter      run only test/e2e/*.test.mjs files whose name contains one of the filters
//   --no-build  never run scripts/build.mjs (by default it runs when dist/ is missing or older than src/)
//   --keep      keep the temporary run dir (also E2E_KEEP=1); it is printed at the end
//   env E2E_TIMEOUT_S  overall limit for the test run (default 900 s)
//
// The last stdout line is always `e2e: N passed, N failed, N skipped` (scripts/test.mjs parses it).
// Exit code: that of `node --test` (0 = all passed); 0 with "1 skipped" when this machine cannot
// run the workbench (test/e2e/setup.sh exited 3, e.g. not root and Chromium missing).
//
// Tests get: CS_PORT (code-server port), E2E_WS (workspace folder: a copy of test/fixtures/),
// E2E_OUT (marker dir; code-server and the extension host see the same E2E_OUT, plus PYFLIGHT_E2E=1),
// E2E_DATA (code-server --user-data-dir, logs under data/logs/), ARTIFACTS (screenshots),
// NODE_PATH (.e2e/node_modules, for playwright-core). Helpers: test/e2e/lib/workbench.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const e2eDir = join(root, '.e2e');
const artifacts = join(root, 'artifacts', 'e2e');
const argv = process.argv.slice(2);
const noBuild = argv.includes('--no-build');
const keep = argv.includes('--keep') || process.env.E2E_KEEP === '1';
const filters = argv.filter((a) => !a.startsWith('--'));
const overallTimeoutMs = Number(process.env.E2E_TIMEOUT_S || 900) * 1000;
const t0 = Date.now();
const secs = (since = t0) => `${((Date.now() - since) / 1000).toFixed(1)}s`;
const log = (msg) => console.log(`e2e: ${msg}`);

let summaryPrinted = false;
function finish(counts, code) {
  if (!summaryPrinted) {
    summaryPrinted = true;
    console.log(`e2e: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  }
  process.exit(code);
}

// ---- 1. set-up (quick when done: stamp file) -------------------------------------------------
const setup = spawnSync('bash', [join(here, 'setup.sh'), e2eDir], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (setup.status === 3) {
  log('skipped: this machine cannot run the workbench (see test/e2e/setup.sh output above)');
  finish({ passed: 0, failed: 0, skipped: 1 }, 0);
}
if (setup.status !== 0) {
  log(`test/e2e/setup.sh failed (exit ${setup.status ?? setup.signal})`);
  finish({ passed: 0, failed: 1, skipped: 0 }, 1);
}

// ---- 2. the extension build ------------------------------------------------------------------
function newestMtime(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const f of readdirSync(dir, { recursive: true })) {
    const s = statSync(join(dir, String(f)), { throwIfNoEntry: false });
    if (s?.isFile() && s.mtimeMs > newest) newest = s.mtimeMs;
  }
  return newest;
}
const bundle = join(root, 'dist', 'extension.js');
const stale = !existsSync(bundle)
  || Math.max(newestMtime(join(root, 'src')), newestMtime(join(root, 'webview'))) > statSync(bundle).mtimeMs;
if (stale && !noBuild) {
  log(existsSync(bundle) ? 'dist/ is older than src/: building' : 'dist/extension.js missing: building');
  const b = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (b.status !== 0) {
    log('build failed (node scripts/build.mjs)');
    finish({ passed: 0, failed: 1, skipped: 0 }, 1);
  }
}
if (!existsSync(bundle)) {
  log('dist/extension.js missing (run node scripts/build.mjs)');
  finish({ passed: 0, failed: 1, skipped: 0 }, 1);
}

// ---- 3. run dir: extensions, settings, workspace ---------------------------------------------
const run = mkdtempSync(join(tmpdir(), 'pyflight-e2e-'));
const dirs = { ext: join(run, 'ext'), data: join(run, 'data'), config: join(run, 'config'), share: join(run, 'share'), cache: join(run, 'cache'), tmp: join(run, 'tmp'), out: join(run, 'out'), ws: join(run, 'ws') };
for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
mkdirSync(join(dirs.data, 'User'), { recursive: true });

const skipJunk = (src) => !/(^|\/)(__pycache__|\.pytest_cache|\.mypy_cache)(\/|$)|\.pyc$/.test(src);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const extFolder = join(dirs.ext, `${pkg.publisher}.${pkg.name}-${pkg.version}`);
mkdirSync(extFolder);
for (const item of ['package.json', 'dist', 'media', 'python', 'README.md', 'LICENSE']) {
  if (existsSync(join(root, item))) cpSync(join(root, item), join(extFolder, item), { recursive: true, filter: skipJunk });
}
const harness = JSON.parse(readFileSync(join(here, 'extensions', 'chat-harness', 'package.json'), 'utf8'));
cpSync(join(here, 'extensions', 'chat-harness'), join(dirs.ext, `${harness.publisher}.${harness.name}-${harness.version}`), { recursive: true });

writeFileSync(join(dirs.data, 'User', 'settings.json'), JSON.stringify({
  'telemetry.telemetryLevel': 'off',
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
}, null, 2));

cpSync(join(root, 'test', 'fixtures'), dirs.ws, { recursive: true, filter: skipJunk });
rmSync(artifacts, { recursive: true, force: true }); // screenshots and logs of this run only
mkdirSync(artifacts, { recursive: true });

// ---- 4. code-server ---------------------------------------------------------------------------
const freePort = () => new Promise((resolve, reject) => {
  const s = createServer().once('error', reject).listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const healthy = (port) => new Promise((resolve) => {
  get(`http://127.0.0.1:${port}/healthz`, (r) => { r.resume(); resolve(r.statusCode === 200); }).on('error', () => resolve(false));
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const csLog = join(run, 'code-server.log');
const port = await freePort();
const csOut = openSync(csLog, 'a');
const cs = spawn(join(e2eDir, 'node_modules', '.bin', 'code-server'), [
  '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
  '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
  '--enable-proposed-api', `${harness.publisher}.${harness.name}`,
  '--user-data-dir', dirs.data, '--extensions-dir', dirs.ext, dirs.ws,
], {
  cwd: run,
  detached: true, // own process group (setsid): the whole tree is killed at the end
  stdio: ['ignore', csOut, csOut],
  // XDG dirs: code-server writes config.yaml and logs, the extension host a device id, not into ~
  env: { ...process.env, XDG_CONFIG_HOME: dirs.config, XDG_DATA_HOME: dirs.share, XDG_CACHE_HOME: dirs.cache, E2E_OUT: dirs.out, PYFLIGHT_E2E: '1' },
});
let csExited = false;
cs.on('exit', () => { csExited = true; });

let testChild = null;
function killTree(child, signal = 'SIGTERM') {
  if (!child) return;
  try { process.kill(-child.pid, signal); } catch { /* group gone */ }
}
/** SIGTERM to the test runner's process group, SIGKILL to whatever is left after 3 s. */
async function stopTests(child) {
  if (!child) return;
  killTree(child, 'SIGTERM');
  for (let i = 0; i < 30 && groupAlive(child.pid); i++) await sleep(100);
  killTree(child, 'SIGKILL');
}
function groupAlive(pgid) {
  try { process.kill(-pgid, 0); return true; } catch { return false; }
}
let csStopped = false;
async function stopCodeServer() {
  if (csStopped) return;
  // the whole group: code-server, its extension hosts and what they spawned (unless they setsid)
  killTree(cs, 'SIGTERM');
  for (let i = 0; i < 50 && groupAlive(cs.pid); i++) await sleep(100);
  killTree(cs, 'SIGKILL');
  csStopped = true;
}
function tail(file, lines = 60) {
  try { return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return '(no log)'; }
}
/** The newest extension-host log (activation errors, extension stack traces). */
function extHostLogFile() {
  const logs = join(dirs.data, 'logs');
  if (!existsSync(logs)) return null;
  const files = readdirSync(logs, { recursive: true }).map(String).filter((f) => f.endsWith('remoteexthost.log'))
    .map((f) => join(logs, f)).sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
  return files.pop() ?? null;
}
function saveLogs() {
  // code-server's own log and the workbench/extension-host logs, for CI artifacts
  try {
    mkdirSync(artifacts, { recursive: true });
    cpSync(csLog, join(artifacts, 'code-server.log'));
    if (existsSync(join(dirs.data, 'logs'))) cpSync(join(dirs.data, 'logs'), join(artifacts, 'logs'), { recursive: true });
    if (readdirSync(dirs.out).length) cpSync(dirs.out, join(artifacts, 'markers'), { recursive: true });
  } catch { /* best effort */ }
}
function cleanup() {
  if (!keep) { try { rmSync(run, { recursive: true, force: true }); } catch { /* best effort */ } }
}
let interrupted = null;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    if (interrupted) return;
    interrupted = sig;
    log(`${sig}: stopping code-server and the tests`);
    await Promise.all([stopTests(testChild), stopCodeServer()]);
    cleanup();
    finish({ passed: 0, failed: 1, skipped: 0 }, sig === 'SIGINT' ? 130 : 143);
  });
}
// Last resort (uncaught error, process.exit elsewhere): never leave the server running.
process.on('exit', () => {
  killTree(testChild, 'SIGKILL');
  if (!csStopped) killTree(cs, 'SIGKILL');
});

const tServer = Date.now();
let up = false;
while (!up && !csExited && Date.now() - tServer < 30000) {
  up = await healthy(port);
  if (!up) await sleep(150);
}
if (!up) {
  log(`code-server did not come up on port ${port}; log tail:`);
  console.log(tail(csLog));
  saveLogs();
  await stopCodeServer();
  cleanup();
  finish({ passed: 0, failed: 1, skipped: 0 }, 1);
}
log(`code-server ${port} ready in ${secs(tServer)} (run dir ${run})`);

// ---- 5. node --test ---------------------------------------------------------------------------
const testFiles = readdirSync(here)
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
  .sort()
  .map((f) => join(here, f));
if (testFiles.length === 0) {
  log(`no test files match ${filters.join(' ')}`);
  await stopCodeServer();
  cleanup();
  finish({ passed: 0, failed: 1, skipped: 0 }, 1);
}

const tap = join(run, 'results.tap');
const tTests = Date.now();
// Two reporters: spec for humans on stdout, TAP into a file for the counts.
testChild = spawn(process.execPath, [
  '--test', '--test-concurrency=1', '--test-timeout=300000',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tap}`,
  ...testFiles,
], {
  cwd: root,
  detached: true,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    CS_PORT: String(port),
    E2E_OUT: dirs.out,
    E2E_WS: dirs.ws,
    E2E_DATA: dirs.data,
    E2E_RUN_DIR: run,
    TMPDIR: dirs.tmp, // browser profiles and other scratch files of the tests go away with the run dir
    ARTIFACTS: artifacts,
    NODE_PATH: join(e2eDir, 'node_modules') + (process.env.NODE_PATH ? `:${process.env.NODE_PATH}` : ''),
  },
});
const overall = setTimeout(() => {
  log(`tests still running after ${overallTimeoutMs / 1000}s: killing them`);
  stopTests(testChild);
}, overallTimeoutMs);
const testCode = await new Promise((resolve) => testChild.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
clearTimeout(overall);
if (interrupted) await new Promise(() => {}); // the signal handler tears down and exits
// leftovers of the test files (browsers, fixture processes they spawned without detaching)
await stopTests(testChild);
testChild = null;

function countsFromTap(text) {
  // the final summary of node --test's TAP reporter: "# pass N", "# fail N", "# cancelled N", …
  const n = (word) => { const m = [...text.matchAll(new RegExp(`^# ${word} (\\d+)$`, 'gm'))].pop(); return m ? Number(m[1]) : 0; };
  return { passed: n('pass'), failed: n('fail') + n('cancelled'), skipped: n('skipped') + n('todo') };
}
const counts = countsFromTap(existsSync(tap) ? readFileSync(tap, 'utf8') : '');
// A run that failed without a failing test (crash, timeout kill) still counts as one failure.
if (testCode !== 0 && counts.failed === 0) counts.failed = 1;

// ---- 6. tear down -----------------------------------------------------------------------------
await stopCodeServer();
saveLogs();
if (testCode !== 0) {
  log(`code-server log tail (${csLog}):`);
  console.log(tail(csLog, 40));
  const ehLog = extHostLogFile();
  if (ehLog) {
    log('extension host log tail (last page load):');
    console.log(tail(ehLog, 30));
  }
  log(`logs, markers and screenshots: ${artifacts}`);
}
log(`tests took ${secs(tTests)}, total ${secs()}; screenshots in ${basename(root)}/artifacts/e2e${keep ? `; run dir kept: ${run}` : ''}`);
cleanup();
finish(counts, testCode);
