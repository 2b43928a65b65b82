import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, FIXTURES, helpersOwnedBy, isHelperRunning, ROOT, startForeignHelper, startTarget, stopAllTargets, TEST_OWNER_VAR, unusedPid, waitUntilGone,
  type Target } from '../support/fixtures';

/** Each CLI run gets its own owner tag, inherited by the helpers it starts (see helpersOwnedBy). */
let cliRuns = 0;
const nextOwner = () => `cli-${process.pid}-${++cliRuns}`;

function pyflight(args: string[], opts: { cwd?: string; asUser?: number; cli?: string; owner?: string } = {}) {
  const cmd = opts.asUser === undefined ? process.execPath : 'setpriv';
  const argv = [opts.cli ?? CLI, ...args, '--json'];
  const full = opts.asUser === undefined ? argv
    : [`--reuid=${opts.asUser}`, `--regid=${opts.asUser}`, '--clear-groups', process.execPath, ...argv];
  const r = spawnSync(cmd, full, { cwd: opts.cwd ?? ROOT, encoding: 'utf8', timeout: 60_000,
    env: { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python'), [TEST_OWNER_VAR]: opts.owner ?? nextOwner() } });
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    assert.fail(`not JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
  return { status: r.status, json };
}

describe('pyflight CLI (headless, same engine)', function () {
  this.timeout(90_000);
  let service: Target;
  // Another user's (or VS Code window's) helper runs all along: "no helper left" means none of ours.
  let foreign: ReturnType<typeof startForeignHelper>;
  before(async () => {
    foreign = startForeignHelper();
    service = await startTarget(['busy_service.py']);
  });
  after(async () => {
    await foreign?.stop();
    await stopAllTargets();
  });

  it('processes --json lists the fixture as a Python process', () => {
    const { status, json } = pyflight(['processes']);
    assert.equal(status, 0);
    const row = json.find((p: { pid: number }) => p.pid === service.pid);
    assert.ok(row, 'fixture not listed');
    assert.equal(row.isPython, true);
    assert.match(row.commandLine, /busy_service\.py/);
  });

  it('check --json reports the venv interpreter and flight-profiler version', () => {
    const { status, json } = pyflight(['check', String(service.pid)]);
    assert.equal(status, 0, JSON.stringify(json));
    assert.equal(json.ok, true);
    assert.match(json.interpreter, /\.venv\/bin\/python$/);
    assert.match(json.flightProfilerVersion, /^\d+\.\d+\.\d+$/);
  });

  it('stack --json has the fixture threads and leaves no helper running', () => {
    const owner = nextOwner();
    const { status, json } = pyflight(['stack', String(service.pid)], { owner });
    assert.equal(status, 0, JSON.stringify(json));
    const worker = json.threads.find((t: { name: string }) => t.name === 'request-worker');
    assert.ok(worker.frames.some((f: { function: string }) => f.function === 'request_worker'));
    assert.deepEqual(helpersOwnedBy(owner), [], 'helper outlived the CLI');
    assert.ok(isHelperRunning(foreign.pid), "the other user's helper is untouched and still running");
  });

  it('module --json resolves a path relative to the current directory', () => {
    const { status, json } = pyflight(['module', String(service.pid), 'shop/orders.py'], { cwd: FIXTURES });
    assert.equal(status, 0, JSON.stringify(json));
    assert.deepEqual(json, { file: path.join(FIXTURES, 'shop', 'orders.py'), module: 'shop.orders' });
  });

  it('watch --json streams one JSON line per record, then an end line', () => {
    const r = spawnSync(process.execPath, [CLI, 'watch', String(service.pid), 'shop.orders', 'total_price', '--expr', 'return_obj', '-n', '2', '--json'],
      { encoding: 'utf8', timeout: 60_000 });
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.type), ['record', 'record', 'end']);
    assert.equal(lines[0].data.value, '6');
    assert.equal(lines[2].data.reason, 'limit');
  });

  for (const [signal, how] of [['SIGINT', 'Ctrl+C ends the stream with an end line'], ['SIGKILL', 'a killed CLI']] as const) {
    it(`watch: ${how} and leaves no probe and no helper behind`, async () => {
      const { spawn } = await import('node:child_process');
      const owner = nextOwner();
      const child = spawn(process.execPath, [CLI, 'watch', String(service.pid), 'shop.orders', 'total_price', '-n', '1000', '--json'],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python'), [TEST_OWNER_VAR]: owner } });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      await new Promise<void>((resolve) => child.stdout.on('data', () => { if (out.includes('"record"')) resolve(); }));
      assert.equal(helpersOwnedBy(owner).length, 1, 'the running CLI has exactly one helper of its own');
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      await exited;
      if (signal === 'SIGINT') assert.match(out.trim().split('\n').at(-1)!, /"type":"end".*"reason":"stopped"/);
      assert.deepEqual(await waitUntilGone(() => helpersOwnedBy(owner)), [], 'helper outlived the CLI');
      const { json } = pyflight(['getglobal', String(service.pid), 'shop.orders', 'total_price', '--expr', 'target.__code__.co_filename', '-r']);
      assert.equal(json.value, `'${path.join(FIXTURES, 'shop', 'orders.py')}'`, 'the watch wrapper is still installed');
    });
  }

  const failures: Array<[string, () => string[], number, string]> = [
    ['a PID that is not a number', () => ['stack', 'abc'], 2, 'BAD_ARGUMENT'],
    ['a PID that does not exist', () => ['stack', String(unusedPid())], 1, 'PID_NOT_FOUND'],
    ['an unknown verb', () => ['frobnicate'], 2, 'BAD_ARGUMENT'],
    ['a file the target never imported', () => ['module', String(service.pid), path.join(FIXTURES, 'plain_sleeper.py')], 1, 'FILE_NOT_IMPORTED'],
  ];
  for (const [name, args, exit, code] of failures) {
    it(`error JSON for ${name}`, () => {
      const { status, json } = pyflight(args());
      assert.equal(status, exit);
      assert.equal(json.error.code, code);
      assert.ok(json.error.message.length > 0);
      assert.ok(json.error.hint, 'every error has a next step');
    });
  }

  it('as a non-root user, a root-owned target gives PERMISSION_DENIED with the fix', function () {
    if (process.getuid?.() !== 0) this.skip(); // needs root to switch to another user
    // Copy the self-contained CLI bundle where `nobody` can read it, whatever the checkout's permissions.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pyflight-cli-'));
    chmodSync(dir, 0o755);
    const cli = path.join(dir, 'cli.js');
    copyFileSync(CLI, cli);
    chmodSync(cli, 0o755);
    try {
      const { status, json } = pyflight(['check', String(service.pid)], { asUser: 65534, cli, cwd: dir });
      assert.equal(status, 1);
      assert.equal(json.error.code, 'PERMISSION_DENIED');
      assert.match(json.error.message, new RegExp(`Process ${service.pid} belongs to root; PyFlight runs as nobody`));
      assert.match(json.error.hint, /as root/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
