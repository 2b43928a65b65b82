// The soak in the faults lane: attach/detach and watch start/stop cycles on one target leave no
// process, no file descriptor, no probe, and the function's original code. 100 + 100 cycles take
// about a minute on the 2-core dev machine (bench/results.json `soak.seconds`); SOAK_CYCLES lowers it.
import assert from 'node:assert/strict';
import { stopAllTargets } from '../support/fixtures';
import { assertTargetHealthy, removeHeartbeatDirs, startBeatingTarget } from '../support/faults';
import { soak } from '../support/soak';

const CYCLES = Number(process.env.SOAK_CYCLES ?? 100);

describe('faults: soak', function () {
  this.timeout(600_000);
  after(async () => {
    await stopAllTargets();
    removeHeartbeatDirs();
  });

  it(`${CYCLES} attach/detach and ${CYCLES} watch start/stop cycles: nothing left, the function is the original`, async () => {
    const target = await startBeatingTarget();
    const result = await soak(target, { attach: CYCLES, watch: CYCLES });
    assert.deepEqual({ orphans: result.orphans, leaked_fds: result.leaked_fds, probes_left: result.probes_left },
      { orphans: [], leaked_fds: 0, probes_left: 0 });
    await assertTargetHealthy(target);
  });
});
