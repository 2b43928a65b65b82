// A process that never imported `threading` (test/fixtures/main_only.py): the agent's thread imports
// it and is "MainThread" to it, the real main thread "Dummy-N" (daemon) or nothing. Every record kind
// calls the thread whose native id is the pid MainThread, not a daemon. And the target's own streams:
// after trace, gilstat on/off and an exception window, stderr is empty and stdout has only its own
// READY line (flight-profiler's native prints, the loader lines too, are cut out of the staged library).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { CLI, FIXTURES, VENV_PYTHON } from '../support/fixtures';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const jsonLines = (text: string) => text.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type?: string; data?: any });

describe('main thread of a process without threading (main_only.py, real agent, CLI)', function () {
  this.timeout(120_000);
  let pid = 0;
  let stdout = '';
  let stderr = '';
  let child: ReturnType<typeof spawn>;

  before(async () => {
    child = spawn(VENV_PYTHON, ['-u', path.join(FIXTURES, 'main_only.py')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (/READY \d+/.test(stdout)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`main_only.py exited ${code}: ${stderr}`)));
    });
    pid = child.pid!;
  });
  after(() => {
    child.kill('SIGKILL');
  });

  it('trace records: MainThread, not a daemon', async () => {
    const run = await cli(['trace', String(pid), '__main__', 'work', '-n', '1', '-i', '0', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const record = jsonLines(run.stdout).find((l) => l.type === 'record')!.data;
    assert.deepEqual({ thread: record.thread, daemon: record.daemon }, { thread: 'MainThread', daemon: false });
  });

  it('gilstat reports: MainThread, not an agent thread, and no Dummy-N', async () => {
    const run = await cli(['gilstat', String(pid), '--interval', '1', '--duration', '2', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const reports = jsonLines(run.stdout).filter((l) => l.type === 'record').map((l) => l.data);
    assert.ok(reports.length >= 1, run.stdout);
    const threads: { thread: string; agent: boolean }[] = reports.flatMap((r) => r.threads);
    assert.ok(threads.some((t) => t.thread === 'MainThread' && !t.agent), JSON.stringify(threads));
    assert.ok(!threads.some((t) => /^Dummy-\d+$/.test(t.thread)), JSON.stringify(threads));
  });

  it('the exception report names MainThread, never Dummy-N', async () => {
    const run = await cli(['diagnose', String(pid), 'requests fail', '--kind', 'exception', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /MainThread/);
    assert.doesNotMatch(run.stdout, /Dummy-\d+/);
  });

  it('the target wrote nothing to stderr, and nothing but its READY line to stdout (the loader lines are cut out too)', () => {
    assert.equal(stderr, '');
    assert.deepEqual(stdout.trim().split('\n').filter((l) => !/^READY \d+$/.test(l)), []);
  });
});
