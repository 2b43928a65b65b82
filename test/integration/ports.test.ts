// The agent's port range with unrelated servers in it. flight-profiler's own client connects to every
// port of 16000-16500 without a timeout and hangs forever on a server that accepts but never answers;
// PyFlight asks only the ports the target itself listens on and binds a free one. Each case uses a
// private port range (PYFLIGHT_INJECT_START_PORT / _END_PORT) so it never touches other users' ports.
import assert from 'node:assert/strict';
import { type Server, type Socket } from 'node:net';
import { ErrorCode } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { Session } from '../../src/session/session';
import { startTarget, stopAllTargets } from '../support/fixtures';
import { silentServer } from '../support/silentServer';

/** `count` consecutive ports that are free right now, in a range far from the default one. */
async function freeRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 30000 + Math.floor(Math.random() * 20000);
    const held: Server[] = [];
    try {
      for (let p = base; p < base + count; p++) held.push((await silentServer(p)).server);
      return base;
    } catch {
      // one of them is taken: try elsewhere
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  }
  throw new Error('no free port range');
}

describe('the agent port range with unrelated servers in it', function () {
  this.timeout(60_000);
  const silent: { server: Server; sockets: Socket[] }[] = [];
  const saved = { start: process.env.PYFLIGHT_INJECT_START_PORT, end: process.env.PYFLIGHT_INJECT_END_PORT };

  function useRange(start: number, end: number): void {
    process.env.PYFLIGHT_INJECT_START_PORT = String(start);
    process.env.PYFLIGHT_INJECT_END_PORT = String(end);
  }

  afterEach(async () => {
    for (const s of silent.splice(0)) {
      for (const socket of s.sockets) socket.destroy();
      await new Promise((r) => s.server.close(r));
    }
    process.env.PYFLIGHT_INJECT_START_PORT = saved.start;
    process.env.PYFLIGHT_INJECT_END_PORT = saved.end;
    if (saved.start === undefined) delete process.env.PYFLIGHT_INJECT_START_PORT;
    if (saved.end === undefined) delete process.env.PYFLIGHT_INJECT_END_PORT;
    await stopAllTargets();
  });

  it('servers that never answer on the first ports: the agent loads on a free one, and is found again', async () => {
    const base = await freeRange(10);
    for (let p = base; p < base + 5; p++) silent.push(await silentServer(p));
    useRange(base, base + 9);
    const target = await startTarget(['plain_sleeper.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0, attachTimeoutSeconds: 20 });
    await session.attach();
    await session.loadAgent();
    const port = session.attachResult!.port;
    assert.ok(port >= base + 5 && port <= base + 9, `agent on ${port}, silent servers on ${base}-${base + 4}`);
    await session.detach();

    const again = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await again.attach();
    assert.equal(again.attachResult?.port, port, 'found without asking the silent servers');
    await again.detach();
  });

  it('every port of the range taken: NO_FREE_PORT names the range, and nothing is loaded', async () => {
    const base = await freeRange(3);
    for (let p = base; p < base + 3; p++) silent.push(await silentServer(p));
    useRange(base, base + 2);
    const target = await startTarget(['plain_sleeper.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await session.attach();
    await assert.rejects(session.loadAgent(), (error: { code: string; message: string }) => {
      assert.equal(error.code, ErrorCode.NoFreePort);
      assert.match(error.message, new RegExp(`${base}-${base + 2}`));
      return true;
    });
    assert.equal(session.agentLoaded, false);
    await session.detach();
  });
});
