import assert from 'node:assert/strict';
import { deathFromStat, deathHint, deathText, targetExitedError } from '../../src/session/targetDeath';

// /proc/<pid>/stat of two zombies, read on Linux 2026-12-06 before their parent reaped them: a
// child killed by SIGSEGV (wait status 11) and one that called os._exit(3) (wait status 768).
const SEGV = '3350 (python3) Z 3304 3302 11986 0 -1 4228684 254 0 0 0 0 0 0 0 20 0 1 0 154113 0 0 18446744073709551615 0 0 0 0 0 0 0 16781312 2 1 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 11\n';
const EXIT3 = '3354 (python3) Z 3304 3302 11986 0 -1 4227148 229 0 0 0 0 0 0 0 20 0 1 0 154144 0 0 18446744073709551615 0 0 0 0 0 0 0 16781312 2 1 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 768\n';

describe('targetDeath: a target that died while attached says how, when it can be told', () => {
  it('reads the signal or the exit status from a zombie, nothing from a reaped or running process', () => {
    assert.deepEqual(deathFromStat(SEGV), { signal: 'SIGSEGV' });
    assert.deepEqual(deathFromStat(EXIT3), { code: 3 });
    assert.deepEqual(deathFromStat(undefined), {});
    assert.deepEqual(deathFromStat(SEGV.replace(' Z ', ' S ')), {});
    assert.deepEqual(deathFromStat('12 (a) b) Z 1'), {}, 'a name with ") " and too few fields');
  });

  it('says "process N exited during <command>", with the signal when known', () => {
    assert.equal(deathText(123, { signal: 'SIGSEGV' }, 'gilstat'), 'process 123 exited during gilstat: killed by SIGSEGV while PyFlight was attached');
    assert.equal(deathText(123, {}, 'mem diff'), 'process 123 exited during mem diff, while PyFlight was attached');
    assert.equal(deathText(123, { code: 3 }), 'process 123 exited (exit status 3) while PyFlight was attached');
    assert.match(deathHint({ signal: 'SIGSEGV' }), /^It crashed/);
    assert.doesNotMatch(deathHint({}), /crashed:/);
    assert.deepEqual(targetExitedError(7, { signal: 'SIGBUS' }, 'watch').toJSON(), {
      code: 'TARGET_EXITED', message: 'process 7 exited during watch: killed by SIGBUS while PyFlight was attached', hint: deathHint({ signal: 'SIGBUS' }),
      details: { signal: 'SIGBUS', during: 'watch' } });
  });
});

describe('the CLI names the command a target died during', () => {
  it('verb, and the action of mem / tt / torch / vmtool', async () => {
    const { commandName } = await import('../../src/cli/withSession');
    const { parseArgs } = await import('../../src/cli/args');
    assert.equal(commandName(parseArgs(['gilstat', '123', '--duration', '5'])), 'gilstat');
    assert.equal(commandName(parseArgs(['mem', 'diff', '123', '--interval', '2'])), 'mem diff');
    assert.equal(commandName(parseArgs(['tt', '123', 'record', '__main__', 'f'])), 'tt record');
    assert.equal(commandName(parseArgs(['watch', '123', 'shop.orders', 'restock'])), 'watch');
    assert.equal(commandName(parseArgs(['vmtool', '123', 'getInstances', '-c', 'm', 'C'])), 'vmtool getInstances');
  });
});
