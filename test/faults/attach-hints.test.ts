// Never twice, and why (issue 18): an attach that times out names the real cause it found — here a
// thread that holds the GIL inside a native call, named from its native stack — and the next attempt
// waits for the agent already loaded instead of loading a second one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { silentLogger } from '../../src/common/logger';
import { Session } from '../../src/session/session';
import { startTarget, stopAllTargets } from '../support/fixtures';

function agentCopies(pid: number): string[] {
  return [...new Set(readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.includes('flight_profiler_agent'))
    .map((l) => l.split(/\s+/).slice(5).join(' ')))];
}

describe('faults: attach timeout hints', function () {
  this.timeout(120_000);
  after(async () => {
    await stopAllTargets();
  });

  it('a thread holding the GIL in a native call: ATTACH_TIMEOUT names that thread and call; a second attempt loads nothing more', async () => {
    const target = await startTarget(['gil_native_hold.py']);
    await new Promise((r) => setTimeout(r, 300)); // inside re.match now
    const attempt = async () => {
      const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0, attachTimeoutSeconds: 4 });
      try {
        await session.attach();
        await session.loadAgent();
        assert.fail('the agent started although the GIL is held');
      } catch (error) {
        return error as { code?: string; message?: string; hint?: string };
      } finally {
        await session.detach();
      }
    };
    const first = await attempt();
    assert.equal(first.code, 'ATTACH_TIMEOUT', JSON.stringify(first));
    assert.match(first.hint ?? '', new RegExp(`thread ${target.pid} holds`), first.hint);
    assert.match(first.hint ?? '', /native call \S*sre\S*|native call \S*(match|SRE)/i, first.hint);
    assert.match(first.hint ?? '', /from Python match\)/, first.hint); // re.match, the innermost Python frame
    const second = await attempt();
    assert.equal(second.code, 'ATTACH_TIMEOUT');
    assert.match(second.message ?? '', /loaded in process \d+ but has not started yet/);
    assert.equal(agentCopies(target.pid).length, 1, 'never loaded twice');
  });
});
