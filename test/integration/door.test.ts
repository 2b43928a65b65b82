// PyFlight's agent listens on a door only its user (or root) may use: a Unix socket in a private
// directory inside the target's own filesystem view, never a TCP port. An agent that flight-profiler's
// own client loaded (macOS, Python 3.14+, PYFLIGHT_INJECT_WITH_CLIENT=1) is found on its TCP port and
// used as it is: PyFlight's in-target reads then travel through its getglobal.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { Session } from '../../src/session/session';
import { listeningTcpPorts, socketInodes } from '../support/door';
import { startTarget, stopAllTargets } from '../support/fixtures';

/** Paths of the Unix sockets the process listens on. */
function listeningUnixPaths(pid: number): string[] {
  const inodes = socketInodes(pid);
  return readFileSync(`/proc/${pid}/net/unix`, 'utf8').split('\n').slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 8 && inodes.has(cols[6]) && (parseInt(cols[3], 16) & 0x10000) !== 0)
    .map((cols) => cols[7]);
}

describe('the agent door', function () {
  this.timeout(90_000);
  afterEach(async () => {
    delete process.env.PYFLIGHT_INJECT_WITH_CLIENT;
    delete process.env.PYFLIGHT_INJECT_START_PORT;
    delete process.env.PYFLIGHT_INJECT_END_PORT;
    await stopAllTargets();
  });

  it('listens on a Unix socket in a private directory of the target, no TCP port; a second session finds it', async () => {
    const target = await startTarget(['busy_service.py']);
    assert.deepEqual(listeningTcpPorts(target.pid), [], 'the fixture listens on nothing itself');
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0, attachTimeoutSeconds: 30 });
    await session.attach();
    await session.loadAgent();
    const probe = session.startProbe('watch', { module: 'shop.orders', method: 'total_price', limit: 2 });
    const records: unknown[] = [];
    probe.onDidRecord((r) => records.push(r));
    await probe.done;
    assert.equal(records.length, 2);

    assert.deepEqual(listeningTcpPorts(target.pid), [], 'no TCP listener of the target, with the agent loaded and a watch run');
    const door = session.attachResult!.door!;
    assert.deepEqual(listeningUnixPaths(target.pid), [door]);
    const dir = statSync(`/proc/${target.pid}/root${path.dirname(door)}`);
    assert.equal(dir.mode & 0o777, 0o700, 'only the target user may enter the door directory');
    assert.equal(dir.uid, statSync(`/proc/${target.pid}`).uid, "the directory is the target user's");
    await session.detach();

    const again = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await again.attach();
    assert.deepEqual([again.attachResult?.kind, again.attachResult?.door, again.attachResult?.reused], ['door', door, true]);
    const stacks = await again.call('stack', {});
    assert.ok(stacks.threads.some((t) => t.name === 'request-worker'), 'thread names asked through the door');
    await again.detach();
    const mapped = readFileSync(`/proc/${target.pid}/maps`, 'utf8').split('\n').filter((l) => l.includes('flight_profiler_agent'));
    assert.equal(new Set(mapped.map((l) => l.split(/\s+/).slice(5).join(' '))).size, 1, `one agent copy:\n${mapped.join('\n')}`);
  });

  it("flight-profiler's own loading (PYFLIGHT_INJECT_WITH_CLIENT=1): its TCP agent is used, in-target reads go through getglobal", async () => {
    process.env.PYFLIGHT_INJECT_WITH_CLIENT = '1';
    // flight-profiler's client asks every port of its range without a timeout: a private range keeps
    // it away from other agents on a shared machine (one that never answers hangs it).
    const base = 40000 + Math.floor(Math.random() * 20000);
    process.env.PYFLIGHT_INJECT_START_PORT = String(base);
    process.env.PYFLIGHT_INJECT_END_PORT = String(base + 30);
    const target = await startTarget(['busy_service.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0, attachTimeoutSeconds: 60 });
    await session.attach();
    await session.loadAgent();
    assert.equal(session.attachResult!.kind, 'tcp');
    const port = session.attachResult!.port!;
    assert.ok(port >= base && port <= base + 30, `flight-profiler's port ${port}`);
    const stacks = await session.call('stack', {});
    assert.ok(stacks.threads.some((t) => t.name === 'request-worker'), stacks.threads.map((t) => t.name).join(', '));
    const found = await session.getglobal({ module: 'sys', field: 'modules', expr: "sorted(k for k in target if k.startswith('_pyflight'))", raw: true });
    assert.equal(found.value, "['_pyflight_fallback']", 'the one entry the fallback leaves in sys.modules');
    await session.detach();
  });
});
