import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { FLIGHT_PROFILER_REQUIREMENT, installFlightProfiler } from '../../src/preflight/installProfiler';
import { Session } from '../../src/session/session';
import { startTarget, stopAllTargets, VENV_PYTHON } from '../support/fixtures';

describe('"Install flight-profiler into <env>" then attach (real pip, real target)', function () {
  this.timeout(180_000);
  let dir: string;
  after(async () => {
    await stopAllTargets();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a target whose venv lacks flight-profiler is attachable after the offered install', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pyflight-install-'));
    const base = spawnSync(VENV_PYTHON, ['-c', 'import sys; print(sys.base_prefix)'], { encoding: 'utf8' }).stdout.trim();
    const made = spawnSync(path.join(base, 'bin', 'python3'), ['-m', 'venv', dir], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const python = path.join(dir, 'bin', 'python');
    const target = await startTarget(['plain_sleeper.py'], python);

    const first = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    const error = await first.attach().then(() => undefined, (e: unknown) => e as PyFlightError);
    assert.equal(error?.code, ErrorCode.ProfilerNotInstalled);
    assert.equal(error?.details?.python, python);

    const lines: string[] = [];
    await installFlightProfiler(python, silentLogger, (line) => lines.push(line));
    assert.ok(lines.some((l) => /Successfully installed .*flight[-_]profiler/i.test(l)), lines.slice(-5).join('\n'));
    assert.match(FLIGHT_PROFILER_REQUIREMENT, /^flight-profiler==\d/);

    const second = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await second.attach();
    const stacks = await second.call('stack', {});
    assert.ok(stacks.threads.some((t) => t.frames.some((f) => f.function === 'idle_forever')));
    await second.detach();
  });
});
