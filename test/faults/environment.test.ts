// The machine around the target: a read-only home, a full disk under an export and under the
// profiler's temporary files, and the agent port range full of servers that never answer.
// Mounts need root (a tmpfs of 64 KiB, private to the case); without root those cases are skipped.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { Session } from '../../src/session/session';
import { stopAllTargets } from '../support/fixtures';
import { silentServer } from '../support/silentServer';
import { assertNoLeftovers, assertTargetHealthy, cliError, removeHeartbeatDirs, runCli, startBeatingTarget, type BeatingTarget, useBeatingTarget } from '../support/faults';

const isRoot = process.getuid?.() === 0;

/** A private tmpfs of `size`, optionally read-only; `unmount()` removes it. */
function tmpfs(options: { size: string; readOnly?: boolean }): { dir: string; unmount: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'pyflight-mnt-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${options.size}${options.readOnly ? ',ro' : ''}`, 'tmpfs', dir], { encoding: 'utf8' });
  assert.equal(mounted.status, 0, mounted.stderr);
  return { dir, unmount: () => { spawnSync('umount', [dir]); rmSync(dir, { recursive: true, force: true }); } };
}

/** Fills a mounted tmpfs to the last byte. */
function fill(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      writeFileSync(path.join(dir, `filler-${i}`), 'x'.repeat(4096));
    } catch {
      try { writeFileSync(path.join(dir, `tail-${i}`), 'x'); } catch { return; }
    }
  }
}

describe('faults: the environment', function () {
  this.timeout(120_000);
  const beating = useBeatingTarget();
  let target: BeatingTarget;
  beforeEach(() => { target = beating(); });

  it('a read-only home directory: stack, watch and perf work and write nothing there', async function () {
    if (!isRoot) this.skip();
    const home = tmpfs({ size: '64k', readOnly: true });
    try {
      const env = { HOME: home.dir, XDG_CACHE_HOME: path.join(home.dir, '.cache'), XDG_CONFIG_HOME: path.join(home.dir, '.config') };
      const stack = await runCli(['stack', String(target.pid), '--json'], { env });
      assert.equal(stack.code, 0, stack.stdout + stack.stderr);
      assert.ok((JSON.parse(stack.stdout) as { threads: { name: string }[] }).threads.some((t) => t.name === 'MainThread'));
      const watch = await runCli(['watch', String(target.pid), '__main__', 'Ledger', 'add', '-n', '2', '--json'], { env });
      assert.equal(watch.code, 0, watch.stdout + watch.stderr);
      assert.equal(watch.stdout.trim().split('\n').length, 3);
      const perf = await runCli(['perf', String(target.pid), '-d', '1', '--json'], { env });
      assert.equal(perf.code, 0, perf.stdout + perf.stderr);
      assert.deepEqual(readdirSync(home.dir), []);
    } finally {
      home.unmount();
    }
  });

  it('a full disk under a profile export: WRITE_FAILED saying the disk is full, no half-written file', async function () {
    if (!isRoot) this.skip();
    const disk = tmpfs({ size: '64k' });
    try {
      fill(disk.dir);
      const before = readdirSync(disk.dir).sort();
      for (const flag of ['--speedscope', '--collapsed']) {
        const file = path.join(disk.dir, `profile-${flag.slice(2)}.out`);
        // --idle: samples even while the heartbeat target sleeps (an empty profile's export is small).
        const run = await runCli(['perf', String(target.pid), '-d', '1', '--idle', flag, file, '--json']);
        assert.equal(run.code, 1);
        assert.deepEqual(cliError(run), { code: ErrorCode.WriteFailed, message: `Cannot write ${file}: the disk is full.`,
          hint: 'Free some space or choose another folder, then save again.' });
        assert.equal(existsSync(file), false);
      }
      assert.deepEqual(readdirSync(disk.dir).sort(), before, 'a temporary file was left');
    } finally {
      disk.unmount();
    }
  });

  it("a full disk under the profiler's temporary files: a clear error, nothing left", async function () {
    if (!isRoot) this.skip();
    const disk = tmpfs({ size: '64k' });
    try {
      fill(disk.dir);
      const before = readdirSync(disk.dir).sort();
      // --idle: the heartbeat target mostly sleeps, and with no sample py-spy writes nothing (so no
      // ENOSPC) — that only failed on a loaded machine, where py-spy counts waiting threads as active.
      const run = await runCli(['perf', String(target.pid), '-d', '1', '--idle', '--json'], { env: { TMPDIR: disk.dir } });
      assert.equal(run.code, 1, run.stdout);
      assert.deepEqual(cliError(run), { code: ErrorCode.WriteFailed, message: `No space left in ${disk.dir} for py-spy's samples: the disk is full.`,
        hint: 'Free some space there (or point TMPDIR at another folder), then record again.' });
      assert.deepEqual(readdirSync(disk.dir).sort(), before);
    } finally {
      disk.unmount();
    }
  });
});

/** `count` consecutive ports, free right now, held by silent servers (never the default 16000–16500). */
async function silentRange(count: number): Promise<{ base: number; close: () => Promise<void> }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 30000 + Math.floor(Math.random() * 20000);
    const held: { server: Server; sockets: Socket[] }[] = [];
    try {
      for (let p = base; p < base + count; p++) held.push(await silentServer(p));
      return {
        base,
        close: async () => {
          for (const s of held) {
            for (const socket of s.sockets) socket.destroy();
            await new Promise((r) => s.server.close(r));
          }
        },
      };
    } catch {
      for (const s of held) await new Promise((r) => s.server.close(r));
    }
  }
  throw new Error('no free port range');
}

describe('faults: the agent port range', function () {
  this.timeout(120_000);
  const saved = { start: process.env.PYFLIGHT_INJECT_START_PORT, end: process.env.PYFLIGHT_INJECT_END_PORT };
  afterEach(async () => {
    for (const [key, value] of [['PYFLIGHT_INJECT_START_PORT', saved.start], ['PYFLIGHT_INJECT_END_PORT', saved.end]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await stopAllTargets();
    await assertNoLeftovers();
  });
  after(removeHeartbeatDirs);

  // flight-profiler's agent takes a port of 16000-16500 and its client hangs on a server there that
  // never answers; PyFlight's agent needs no port (its door is a Unix socket), so a range full of
  // such servers changes nothing: the agent loads and is found again without asking any of them.
  it('every port of the range held by a server that never answers: the agent loads behind its door, found again', async () => {
    const range = await silentRange(4);
    const target = await startBeatingTarget();
    try {
      process.env.PYFLIGHT_INJECT_START_PORT = String(range.base);
      process.env.PYFLIGHT_INJECT_END_PORT = String(range.base + 3);
      const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0, attachTimeoutSeconds: 20 });
      await session.attach();
      await session.loadAgent();
      const door = session.attachResult!.door;
      await session.detach();
      assert.equal(session.attachResult!.kind, 'door');
      assert.match(door ?? '', /\/pyflight-door-\d+-\w+\/agent\.sock$/);
      const again = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
      await again.attach();
      assert.deepEqual([again.attachResult?.door, again.attachResult?.reused], [door, true]);
      await again.detach();
      await assertTargetHealthy(target);
    } finally {
      await range.close();
    }
  });
});
