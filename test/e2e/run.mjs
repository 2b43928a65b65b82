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
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { startWorkbench } from './lib/codeServer.mjs';
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

// ---- 3 + 4. run dir (extension, harness, settings, workspace) and code-server ---------------------
rmSync(artifacts, { recursive: true, force: true }); // screenshots and logs of this run only
mkdirSync(artifacts, { recursive: true });
const run = mkdtempSync(join(tmpdir(), 'pyflight-e2e-'));
const skipJunk = (src) => !/(^|\/)(__pycache__|\.pytest_cache|\.mypy_cache)(\/|$)|\.pyc$/.test(src);
const wsDir = join(run, 'ws');
cpSync(join(root, 'test', 'fixtures'), wsDir, { recursive: true, filter: skipJunk });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let workbench;
try {
  workbench = await startWorkbench({ workspace: wsDir, withHarness: true, runDir: run, env: { E2E_OUT: join(run, 'out'), PYFLIGHT_E2E: '1' } });
} catch (error) {
  log(`${error.message}; log tail:`);
  console.log(tail(join(run, 'code-server.log')));
  if (!keep) rmSync(run, { recursive: true, force: true });
  finish({ passed: 0, failed: 1, skipped: 0 }, 1);
}
const { dirs, port } = workbench;
const csLog = workbench.logFile;
const stopCodeServer = () => workbench.stop();
const tServer = Date.now() - workbench.readyMs;

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
  workbench.killNow();
});

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
