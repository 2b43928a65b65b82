import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { CLI, ROOT, startTarget, stopAllTargets, type Target } from '../support/fixtures';

const ENV = { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python') };

function pyflight(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env: ENV });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI until its first stdout line matching `ready`, then calls `then`; resolves with all of stdout. */
function pyflightUntil(args: string[], ready: RegExp, then: () => void): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
    let out = '';
    let fired = false;
    child.stdout.on('data', (d) => {
      out += d;
      if (!fired && ready.test(out)) {
        fired = true;
        then();
      }
    });
    child.once('exit', (code) => resolve({ code, stdout: out }));
  });
}

describe('pyflight CLI: readable records, flight-profiler syntax, honest end lines (records_service.py)', function () {
  this.timeout(120_000);
  let service: Target;
  before(async () => { service = await startTarget(['records_service.py']); });
  after(stopAllTargets);

  it('watch prints one readable line per record and an end line that says what happened', () => {
    const r = pyflight(['watch', String(service.pid), '__main__', 'parse_line', '-e', '-n', '2']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 3, r.stdout);
    for (const line of lines.slice(0, 2)) {
      assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} +[\d.]+ ms {2}✗ parse_line\(line='bad\d+'\) raised ValueError: not enough values to unpack/);
    }
    assert.equal(lines[2], 'watch __main__.parse_line: 2 of 2 exceptions · ended: limit 2 reached');
    assert.doesNotMatch(r.stdout, /^\s*[{[]/m, 'JSON without --json');
  });

  it('trace prints an indented call tree per call, then the merged tree', () => {
    const r = pyflight(['trace', String(service.pid), '__main__', 'handle', '-n', '2', '-i', '0']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d\d:\d\d:\d\d\.\d{3} thread=ingest cost=[\d.]+ ms\n`---\[[\d.]+ ms 100%\] handle {2}records_service\.py:\d+\n {4}[+`]---\[[\d.]+ ms \d+%\] parse_line/m);
    assert.match(r.stdout, /merged over 2 calls:\n`---\[total [\d.]+ ms · avg [\d.]+ ms · max [\d.]+ ms · 2\/2 calls\] handle/);
    assert.match(r.stdout.trim().split('\n').at(-1)!, /^trace __main__\.handle: 2 of 2 calls · ended: limit 2 reached$/);
  });

  it('tt accepts flight-profiler\'s syntax: -t, -l, -i N, -i N -p, -da', () => {
    const recorded = pyflight(['tt', String(service.pid), '-t', '__main__', 'Store', 'put', '-n', '2', '--json']);
    assert.equal(recorded.status, 0, recorded.stderr);
    const records = recorded.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'record');
    assert.equal(records.length, 2);
    const index = records[0].data.index as number;
    const list = pyflight(['tt', String(service.pid), '-l']);
    assert.match(list.stdout, new RegExp(`^#${index} .* returned +__main__\\.Store\\.put$`, 'm'));
    const show = pyflight(['tt', String(service.pid), '-i', String(index)]);
    assert.match(show.stdout, new RegExp(`^index +#${index}$`, 'm'));
    assert.match(show.stdout, /^method +__main__\.Store\.put$/m);
    assert.match(show.stdout, /^returned +\d+/m);
    const replay = pyflight(['tt', String(service.pid), '-i', String(index), '-p', '--json']);
    assert.equal(replay.status, 0, replay.stderr);
    assert.notEqual(JSON.parse(replay.stdout).index, index);
    assert.match(pyflight(['tt', String(service.pid), '-da']).stdout, /All time fragments are deleted/);
  });
});

describe('pyflight CLI: a target killed during a live watch', function () {
  this.timeout(120_000);
  after(stopAllTargets);

  for (const json of [true, false]) {
    it(`the end line says the process exited, and the command fails with TARGET_EXITED${json ? ' (--json: reason "exited", then the error)' : ''}`, async () => {
      const doomed = await startTarget(['records_service.py']);
      const args = ['watch', String(doomed.pid), '__main__', 'parse_line', '--expr', 'args', '-n', '100000', ...(json ? ['--json'] : [])];
      const { code, stdout } = await pyflightUntil(args, json ? /"type":"record"/ : /parse_line|args =/, () => doomed.child.kill('SIGKILL'));
      const lines = stdout.trim().split('\n');
      if (json) {
        // The stream's end line, then the command's failure: the process died, it is not a success.
        const end = lines.map((l) => JSON.parse(l)).find((l) => l.type === 'end');
        assert.equal(end?.data.reason, 'exited', stdout.slice(-400));
        const failure = JSON.parse(lines.at(-1)!);
        assert.equal(failure.error?.code, 'TARGET_EXITED', lines.at(-1));
        assert.match(failure.error.message, new RegExp(`process ${doomed.pid} exited during watch`));
      } else {
        assert.ok(lines.some((l) => /^watch __main__\.parse_line: \d+ calls? · process exited$/.test(l)), stdout.slice(-400));
      }
      assert.equal(code, 1, 'a command whose target died fails');
    });
  }
});
