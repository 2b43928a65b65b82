import assert from 'node:assert/strict';
import { silentLogger } from '../../src/common/logger';
import { diagnose } from '../../src/diagnose/engine';
import { Session } from '../../src/session/session';
import { startTarget, stopAllTargets } from '../support/fixtures';

// Judge 14: a service that passed its whole catalog in every multiprocessing.Pool task spent its CPU
// in ForkingPickler.dumps on the pool's task-feeding thread, and the diagnosis said only "No
// own-code function uses the CPU itself". pool_pickling.py passes a 20,000-rule table per task.
describe('diagnose: CPU spent pickling a process pool\'s tasks is named with the call that submits them', function () {
  this.timeout(180_000);
  const sessions: Session[] = [];
  after(async () => {
    await Promise.all(sessions.map((s) => s.detach()));
    await stopAllTargets();
  });

  it('pool_pickling.py, "pricing requests are slow": Pricer.price and what it sends lead', async () => {
    const target = await startTarget(['pool_pickling.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    sessions.push(session);
    await session.attach();
    const report = await diagnose(session, 'pricing requests are slow', { budgetSeconds: 20 });
    const [first] = report.findings;
    const titles = report.findings.map((f) => f.title).join('\n');
    assert.match(first.title, /^Pricer\.price sends its pool tasks' arguments through pickle: [\d.]+% of the CPU samples pickle them \(in the pool's task-feeding thread, ForkingPickler\.dumps\), for `return self\.pool\.starmap\(price_basket, jobs\)`; the workers unpickle each task again$/, titles);
    assert.equal(first.location?.function, 'Pricer.price');
    assert.ok(first.evidence.includes('What it sends, built just above: `jobs = [(basket, self.rules) for basket in baskets]` (line 24).'), first.evidence.join('\n'));
    assert.match(first.next_steps[0], /^Send less per task: give the workers the big data that does not change once/);
    assert.ok(!/No own-code function uses the CPU itself/.test(titles), titles);
  });
});
