import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { DiagnosisReport } from '../../src/diagnose/report';
import { CLI, ROOT, RUN_OWNER, startTarget, stopAllTargets, TEST_OWNER_VAR, VENV_PYTHON } from '../support/fixtures';
import { matrixInterpreters, profilerVenv } from '../support/interpreters';

// Deadlocks between two objects that the source names alike: two classes' `self.lock`
// (deadlock_same_name.py) and the two-account transfer, `self._lock` then `other._lock`
// (deadlock_two_accounts.py). The helper tells the locks apart by the objects' addresses (py-spy's
// locals, read from outside). `pyflight diagnose <pid> "the payments service stopped responding"`
// must lead with the Deadlock finding naming both functions and lines, with Lock and RLock, on
// the project venv (3.11), pyenv's 3.10, 3.12 and 3.13 and the system's python3 (the matrix lane's venvs, flight-profiler in them).

async function pyenv(minor: string): Promise<string | undefined> {
  const interp = matrixInterpreters().find((i) => i.version?.startsWith(`${minor}.`) && !i.key.startsWith('system'));
  return interp?.base ? profilerVenv(interp) : undefined;
}

async function system(): Promise<string | undefined> {
  const interp = matrixInterpreters().find((i) => i.key.startsWith('system'));
  return interp?.base ? profilerVenv(interp) : undefined;
}

const interpreters: Array<[string, () => Promise<string | undefined>, string[]]> = [
  ['3.11 (the project venv)', async () => VENV_PYTHON, []],
  ['3.12', () => pyenv('3.12'), ['--rlock']],
  ['3.10', () => pyenv('3.10'), ['--rlock']],
  ['3.13', () => pyenv('3.13'), []],
  ["the system's python3 (Debian, stripped)", system, ['--rlock']],
];

function diagnoseCli(pid: number): DiagnosisReport {
  const env = { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python'), [TEST_OWNER_VAR]: RUN_OWNER };
  const run = spawnSync(process.execPath, [CLI, 'diagnose', String(pid), 'the payments service stopped responding', '--json'], { encoding: 'utf8', env, timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as DiagnosisReport;
}

for (const [label, pythonOf, lockFlag] of interpreters) {
  describe(`deadlock between two objects of one name, on ${label}`, function () {
    this.timeout(600_000);
    let python: string | undefined;

    before(async function () {
      python = await pythonOf();
      if (!python) this.skip(); // this machine image has pyenv's 3.10 and 3.12; others may not
    });

    after(async () => {
      await stopAllTargets();
    });

    it(`two classes' self.lock (${lockFlag.length ? 'RLock' : 'Lock'}): the Deadlock finding leads, naming AuditLog.record and AccountLedger.snapshot`, async () => {
      const target = await startTarget(['deadlock_same_name.py', ...lockFlag], python);
      const report = diagnoseCli(target.pid);
      assert.equal(report.kind, 'hang');
      const first = report.findings[0];
      assert.equal(first.severity, 'critical', JSON.stringify(report.findings.map((f) => f.title)));
      assert.match(first.title, /^Deadlock: /);
      assert.match(first.title, /AccountLedger\.snapshot \(deadlock_same_name\.py:31\) waits for self\.lock \(AccountLedger at 0x[0-9a-f]+\)/);
      assert.match(first.title, /AuditLog\.record \(deadlock_same_name\.py:41\) waits for self\.lock \(AuditLog at 0x[0-9a-f]+\)/);
      assert.ok(first.evidence.some((e) => /^payments in AuditLog\.record .* holds self\.lock \(AccountLedger at .*\(taken at deadlock_same_name\.py:26\)/.test(e)), first.evidence.join('\n'));
      assert.ok(first.evidence.some((e) => /^audit-flusher in AccountLedger\.snapshot .* holds self\.lock \(AuditLog at .*\(taken at deadlock_same_name\.py:45\)/.test(e)), first.evidence.join('\n'));
      assert.equal(report.findings.filter((f) => f.severity === 'critical').length, 1);
      assert.ok(!report.findings.some((f) => /did not move/.test(f.title)), report.findings.map((f) => f.title).join('\n'));
      await target.stop();
    });

    it(`Account.transfer_to, self._lock then other._lock, a→b and b→a (${lockFlag.length ? 'Lock' : 'RLock'}): the Deadlock finding leads`, async () => {
      const target = await startTarget(['deadlock_two_accounts.py', ...(lockFlag.length ? [] : ['--rlock'])], python);
      const report = diagnoseCli(target.pid);
      assert.equal(report.kind, 'hang');
      const first = report.findings[0];
      assert.equal(first.severity, 'critical', JSON.stringify(report.findings.map((f) => f.title)));
      assert.match(first.title, /^Deadlock: Account\.transfer_to \(deadlock_two_accounts\.py:29\) waits for other\._lock \(Account at (0x[0-9a-f]+)\), while Account\.transfer_to \(deadlock_two_accounts\.py:29\) waits for other\._lock \(Account at (0x[0-9a-f]+)\), each held by the other$/);
      const [, one, two] = /at (0x[0-9a-f]+)\).*at (0x[0-9a-f]+)\)/.exec(first.title)!;
      assert.notEqual(one, two);
      assert.equal(first.evidence.filter((e) => /holds self\._lock \(Account at 0x[0-9a-f]+\) \(taken at deadlock_two_accounts\.py:26\) and waits for other\._lock /.test(e)).length, 2, first.evidence.join('\n'));
      assert.match(first.next_steps[0], /_lock` of two Account objects in one order/);
      assert.ok(!report.findings.some((f) => /did not move/.test(f.title)), report.findings.map((f) => f.title).join('\n'));
      await target.stop();
    });
  });
}
