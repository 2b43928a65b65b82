/**
 * A service on Debian's own /usr/bin/python3.11, which has no flight-profiler and where pip may not
 * install (EXTERNALLY-MANAGED). Judge 5 (D1): every verb refused, `--no-agent` too. Now the refusal
 * says how to read it from outside, and with PYFLIGHT_PYTHON pointing at a venv of the same
 * interpreter that has flight-profiler (its pystack and py-spy), stacks, perf and the hang and slow
 * diagnoses work, while the agent is refused with nothing loaded.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { otherUserPython } from '../support/door';
import { CLI, ROOT, startTarget, stopAllTargets, TEST_OWNER_VAR, type Target } from '../support/fixtures';

const SYSTEM_PYTHON = '/usr/bin/python3.11';

/** The CLI; without a `reader`, PyFlight's own reader is built in `cache` (a folder of this test), or refused with `cache` 'off'. */
function pyflight(args: string[], reader?: string, cache: string = 'off') {
  const env: NodeJS.ProcessEnv = { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python'), [TEST_OWNER_VAR]: `reader-${process.pid}` };
  delete env.PYFLIGHT_PYTHON;
  if (reader) env.PYFLIGHT_PYTHON = reader;
  if (cache === 'off') env.PYFLIGHT_READER = 'off';
  else env.XDG_CACHE_HOME = cache;
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env });
  let json: any;
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    assert.fail(`not JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
  return { status: r.status, json, stderr: r.stderr };
}

const agentMapped = (pid: number) => readFileSync(`/proc/${pid}/maps`, 'utf8').includes('flight_profiler_agent');

describe('a service on the system Python, read with a reader venv (PYFLIGHT_PYTHON)', function () {
  this.timeout(300_000);
  let service: Target;
  let reader: string;

  before(async function () {
    if (!existsSync(SYSTEM_PYTHON)) this.skip();
    if (spawnSync(SYSTEM_PYTHON, ['-c', 'import flight_profiler']).status === 0) this.skip(); // not the case this tests
    reader = otherUserPython(); // a venv of /usr/bin/python3.11 with flight-profiler and py-spy
    service = await startTarget(['deadlock.py'], SYSTEM_PYTHON);
  });
  after(stopAllTargets);

  it('without one, and PYFLIGHT_READER=off, the refusal says how to read the process from outside', () => {
    const r = pyflight(['stack', String(service.pid)]);
    assert.equal(r.status, 1);
    assert.equal(r.json.error.code, 'PROFILER_NOT_INSTALLED');
    assert.match(r.json.error.hint, /PyFlight builds a reader environment of the same interpreter in ~\/\.cache\/pyflight\/readers .*PYFLIGHT_READER=off.*PYFLIGHT_PYTHON/);
  });

  it('with it: check says it reads from outside only; stack, perf and the hang diagnosis work; the agent is refused and nothing is loaded', () => {
    const check = pyflight(['check', String(service.pid)], reader);
    assert.equal(check.status, 0, check.stderr);
    assert.equal(check.json.readsOnlyFromOutside, true);
    assert.equal(check.json.targetPython, SYSTEM_PYTHON);

    const stack = pyflight(['stack', String(service.pid)], reader);
    assert.equal(stack.status, 0, stack.stderr);
    const frames = stack.json.threads.flatMap((t: any) => t.frames.map((f: any) => f.function ?? f.name));
    assert.ok(frames.includes('transfer_to_savings') && frames.includes('write_audit_log'), JSON.stringify(frames));

    const perf = pyflight(['perf', String(service.pid), '-d', '1'], reader);
    assert.equal(perf.status, 0, perf.stderr);

    const hang = pyflight(['diagnose', String(service.pid), 'the transfer hangs', '--kind', 'hang', '--no-agent'], reader);
    assert.equal(hang.status, 0, hang.stderr);
    assert.match(hang.json.findings[0].title, /[Dd]eadlock/);

    const watch = pyflight(['watch', String(service.pid), '__main__', 'transfer_to_savings', '-n', '1'], reader);
    assert.equal(watch.status, 1);
    assert.equal(watch.json.error.code, 'PROFILER_NOT_INSTALLED');
    assert.match(watch.json.error.message, /another environment than the one it runs in \(\/usr\/bin\/python3\.11\).*nothing was loaded/);
    assert.equal(agentMapped(service.pid), false, 'the agent library was loaded');
  });

  it('without one, the CLI builds PyFlight\'s reader of the same interpreter once (in the cache), reads the process with it, and still loads nothing', () => {
    const cache = mkdtempSync(path.join(tmpdir(), 'pyflight-reader-cache-'));
    try {
      const stack = pyflight(['stack', String(service.pid)], undefined, cache);
      assert.equal(stack.status, 0, stack.stderr);
      assert.match(stack.stderr, /flight-profiler is not in the environment process \d+ runs in \(\/usr\/bin\/python3\.11\): reading it from outside with PyFlight's reader environment/);
      const frames = stack.json.threads.flatMap((t: any) => t.frames.map((f: any) => f.function ?? f.name));
      assert.ok(frames.includes('transfer_to_savings') && frames.includes('write_audit_log'), JSON.stringify(frames));
      const [built] = readdirSync(path.join(cache, 'pyflight', 'readers'));
      assert.equal(readdirSync(path.join(cache, 'pyflight', 'readers')).length, 1, 'one reader, no half-built folder left');
      assert.equal(readFileSync(path.join(cache, 'pyflight', 'readers', built, 'ready'), 'utf8').split('\n')[0], realpathSync(SYSTEM_PYTHON));

      const hang = pyflight(['diagnose', String(service.pid), 'the transfer hangs'], undefined, cache);
      assert.equal(hang.status, 0, hang.stderr);
      assert.match(hang.json.findings[0].title, /[Dd]eadlock/);

      const watch = pyflight(['watch', String(service.pid), '__main__', 'transfer_to_savings', '-n', '1'], undefined, cache);
      assert.equal(watch.status, 1);
      assert.equal(watch.json.error.code, 'PROFILER_NOT_INSTALLED');
      assert.match(watch.json.error.message, /its reader environment, because flight-profiler is not in the one the process runs in \(\/usr\/bin\/python3\.11\).*nothing was loaded/);
      assert.match(watch.json.error.hint, /and attach again/);
      assert.equal(agentMapped(service.pid), false, 'the agent library was loaded');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
