import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { diagnose } from '../../src/diagnose/engine';
import { Session } from '../../src/session/session';
import { freshOutputDir, profileTorchCall, torchMemoryRun } from '../../src/torch/torchRun';
import { useAttachedService } from '../support/attached';
import { CLI, FIXTURES, ROOT, startTarget, stopAllTargets, TEST_OWNER_VAR, type Target } from '../support/fixtures';

/** The 1-based line of the `def forward` of `cls` in a fixture (what the trace's Python frame names). */
function forwardLine(file: string, cls: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith(`class ${cls}(`));
  return at + 1 + lines.slice(at).findIndex((l) => l.trim().startsWith('def forward('));
}

/** Directories a torch run stages in the target's /tmp; each must be gone after the run. */
function stagingDirs(pid: number): string[] {
  return readdirSync(`/proc/${pid}/root/tmp`).filter((n) => n.startsWith(`pyflight-torch-${pid}-`));
}

function torchLoaded(pid: number): boolean {
  return /libtorch/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));
}

// Needs torch in .venv: scripts/setup.mjs installs it (step "torch"), so CI runs these, never skips.
describe('torch: profile / memory through flight-profiler (torch_service.py, CPU torch)', function () {
  this.timeout(120_000);
  let service: Target;
  let session: Session;
  const dirs: string[] = [];

  before(async () => {
    service = await startTarget(['torch_service.py'], undefined, 60_000);
    session = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 500 });
    await session.attach();
  });
  after(async () => {
    await session?.detach();
    await stopAllTargets();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('profiles one call: top operators by self CPU include aten::addmm (in TinyMLP › Linear) and aten::mm (from score)', async () => {
    const dir = await freshOutputDir(session.host);
    dirs.push(dir);
    let waited = 0;
    const run = await profileTorchCall(session, { module: '__main__', method: 'inference_step' }, { outputDir: dir, onWaiting: () => waited++ });
    assert.equal(waited, 1, 'progress said it waits for the call');
    assert.equal(path.dirname(run.result.file), dir);
    assert.ok(existsSync(run.result.file) && run.result.bytes > 0);
    assert.equal(run.result.cudaAvailable, false);
    const names = run.summary.ops.map((o) => o.name);
    assert.ok(names.includes('aten::addmm') && names.includes('aten::mm'), names.join(', '));
    const addmm = run.summary.ops.find((o) => o.name === 'aten::addmm')!;
    assert.equal(addmm.calls, 2, 'two Linear layers, one call of the step');
    assert.equal(addmm.modulePath, 'TinyMLP › Linear');
    assert.ok(addmm.shapes[0].includes('[64, 256]'), addmm.shapes.join(' | '));
    const mm = run.summary.ops.find((o) => o.name === 'aten::mm')!;
    assert.equal(mm.calls, 12);
    assert.equal(mm.caller?.function, 'score');
    const selfTimes = run.summary.ops.map((o) => o.selfCpuUs);
    assert.deepEqual(selfTimes, [...selfTimes].sort((a, b) => b - a));
    assert.ok(run.summary.withStack);
    assert.deepEqual(stagingDirs(service.pid), [], 'nothing left in the target\'s /tmp');
  });

  it('a memory snapshot of a CPU-only process says plainly that it needs CUDA, and leaves no file', async () => {
    const dir = await freshOutputDir(session.host);
    dirs.push(dir);
    await assert.rejects(torchMemoryRun(session, {}, { outputDir: dir }), (e: PyFlightError) =>
      e.code === ErrorCode.TorchNoCuda && /without CUDA/.test(e.message) && /2\.13/.test(e.message));
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(stagingDirs(service.pid), []);
    // --record too: refused before any wrapper is installed, so the next profile of the step works.
    await assert.rejects(torchMemoryRun(session, { record: { module: '__main__', method: 'inference_step' } }, { outputDir: dir }),
      (e: PyFlightError) => e.code === ErrorCode.TorchNoCuda && /torch memory record/.test(e.message));
    assert.deepEqual(readdirSync(dir), []);
  });

  it('cancelling while it waits for a call removes the wrapper: the next profile works', async () => {
    const stop = new AbortController();
    // TinyMLP.__init__ runs once at start-up, never again: the wrapper waits until cancelled.
    const waiting = profileTorchCall(session, { module: '__main__', class: 'TinyMLP', method: '__init__' },
      { signal: stop.signal, onWaiting: () => stop.abort() });
    await assert.rejects(waiting, (e: PyFlightError) => e.code === ErrorCode.Cancelled);
    assert.deepEqual(stagingDirs(service.pid), []);
    const again = await profileTorchCall(session, { module: '__main__', method: 'score' });
    dirs.push(path.dirname(again.result.file));
    assert.ok(again.summary.ops.some((o) => o.name === 'aten::mm'));
    assert.ok(!again.summary.ops.some((o) => o.name === 'aten::addmm'), 'score alone has no Linear layer');
  });

  it('profiling a method again and again never breaks the target (flight-profiler\'s wrapper raised into it; see commands/pytorch.py)', async () => {
    for (let i = 0; i < 5; i++) {
      const run = await profileTorchCall(session, { module: '__main__', class: 'TinyMLP', method: 'forward' });
      dirs.push(path.dirname(run.result.file));
      assert.ok(run.summary.ops.some((o) => o.name === 'aten::addmm' && o.calls === 2));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(service.child.exitCode, null, service.output().slice(-2000));
    assert.doesNotMatch(service.output(), /Event loop is closed|Traceback/);
  });

  it('a wrong name is a BAD_LOCATION with the name in it', async () => {
    await assert.rejects(profileTorchCall(session, { module: '__main__', method: 'no_such_step' }),
      (e: PyFlightError) => e.code === ErrorCode.BadLocation && /no_such_step/.test(e.message));
  });

  it('pyflight torch <pid> profile … --json prints the file and the summary', () => {
    const r = spawnSync(process.execPath, [CLI, 'torch', String(service.pid), 'profile', '__main__', 'TinyMLP', 'forward', '--json'], {
      cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, [TEST_OWNER_VAR]: `torch-cli-${process.pid}` } });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    dirs.push(path.dirname(out.file));
    assert.ok(existsSync(out.file));
    // One call's timings vary on a shared machine: which operators, not their order, is the fact.
    assert.ok(out.summary.ops.some((o: { name: string }) => o.name === 'aten::addmm'), JSON.stringify(out.summary.ops.slice(0, 3)));
    assert.equal(out.summary.modules[0].path.split(' › ')[0], 'TinyMLP');
    assert.match(r.stderr, /waiting for the next call of __main__ TinyMLP forward/);
  });
});

describe('torch: the target exits while PyFlight waits for the call', function () {
  this.timeout(120_000);

  it('ends with TARGET_EXITED, not a hang', async () => {
    const service = await startTarget(['torch_service.py'], undefined, 60_000);
    const session = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 500 });
    await session.attach();
    try {
      const waiting = profileTorchCall(session, { module: '__main__', class: 'TinyMLP', method: '__init__' },
        { onWaiting: () => service.child.kill('SIGKILL') });
      await assert.rejects(waiting, (e: PyFlightError) => e.code === ErrorCode.TargetExited);
      assert.deepEqual(readdirSync('/tmp').filter((n) => n.startsWith(`pyflight-torch-${service.pid}-`)), [],
        'the staging directory is removed even though the target is gone');
    } finally {
      await session.detach();
      await stopAllTargets();
    }
  });
});

describe('torch: diagnose --kind torch (torch_service.py)', function () {
  this.timeout(120_000);
  let service: Target;

  before(async () => { service = await startTarget(['torch_service.py'], undefined, 60_000); });
  after(stopAllTargets);

  it('pyflight diagnose --kind torch names the step, the operators and the module whose forward issues them', () => {
    const r = spawnSync(process.execPath, [CLI, 'diagnose', String(service.pid), 'it is slow', '--kind', 'torch', '--budget', '30', '--json'], {
      cwd: ROOT, encoding: 'utf8', timeout: 90_000, env: { ...process.env, [TEST_OWNER_VAR]: `torch-diag-${process.pid}` } });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.kind, 'torch');
    // TinyMLP's operators are about a quarter of the step's, so the step leads. One call's times are
    // wall times (a loaded machine once moved TinyMLP to 81 %): the least of three calls is used, and
    // still, beside another full CI run, TinyMLP read 52 % once — then it leads, as the rule says.
    type F = { title: string; location: { function: string; file: string; line: number }; evidence: string[]; next_steps: string[] };
    const titles = JSON.stringify(report.findings.map((f: F) => f.title));
    const step = (report.findings as F[]).find((f) => f.location?.function === 'inference_step')!;
    const module = (report.findings as F[]).find((f) => f.location?.function === 'TinyMLP.forward')!;
    assert.ok(step && module, titles);
    const share = Number(/^TinyMLP\.forward costs most: (\d+)%/.exec(module.title)?.[1] ?? NaN);
    assert.equal(report.findings[0], share >= 50 ? module : step, titles);
    // (said on the first finding; a loaded host leaves time for two calls only)
    assert.match(report.findings[0].evidence.join('\n'), /[23] calls were profiled \(operator CPU time [^)]+\); each operator's and module's figure is its least over the calls/);
    assert.equal(path.basename(step.location.file), 'torch_service.py');
    const evidence = step.evidence.join('\n');
    assert.match(evidence, /aten::addmm/);
    assert.match(evidence, /aten::mm/);
    // Its operators in the order of their measured time: on a loaded machine aten::clamp_min (the relu) can come before aten::addmm.
    assert.match(module.title, share >= 50 ? /^TinyMLP\.forward costs most: \d+% of inference_step's operator CPU time \(.*aten::addmm/
      : /^TinyMLP\.forward issues .*aten::addmm.* \(\d+% of the step's operator CPU time\)$/);
    assert.equal(module.location.line, 24, 'the def of TinyMLP.forward in the fixture');
    assert.ok(report.commands_run.includes(`pyflight torch ${service.pid} profile __main__ inference_step`), report.commands_run.join(' | '));
    const trace = (report.findings as F[]).flatMap((f) => f.next_steps).map((t) => /: (\/\S+\.json)/.exec(t)?.[1]).find(Boolean);
    assert.ok(trace, 'the Chrome trace is offered');
    rmSync(path.dirname(trace), { recursive: true, force: true });
  });

  it('a problem with no telling words routes to torch because the process has imported it', async () => {
    const session = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 500 });
    await session.attach();
    try {
      const report = await diagnose(session, 'something is off', { budgetSeconds: 20 });
      const said = `${report.kind}: ${report.routedBy}\n${report.findings.map((f) => `${f.title}\n  ${f.evidence.join('\n  ')}`).join('\n')}`;
      assert.equal(report.kind, 'torch', said);
      assert.match(report.routedBy, /torch is loaded/, said);  // and busy, or a thread inside torch
      // The step leads, or TinyMLP when it measured 50 % or more of the step (a loaded CI run read 51 %): the rule above.
      const module = report.findings.find((f) => f.location?.function === 'TinyMLP.forward');
      const share = Number(/^TinyMLP\.forward costs most: (\d+)%/.exec(module?.title ?? '')?.[1] ?? NaN);
      assert.equal(report.findings[0].location?.function, share >= 50 ? 'TinyMLP.forward' : 'inference_step', said);
      const trace = report.findings.flatMap((f) => f.next_steps).map((t) => /: (\/\S+\.json)/.exec(t)?.[1]).find(Boolean);
      if (trace) rmSync(path.dirname(trace), { recursive: true, force: true });
    } finally {
      await session.detach();
    }
  });
});

describe('torch: diagnose names the nn.Module whose forward costs most (torch_model_service.py)', function () {
  this.timeout(120_000);
  after(stopAllTargets);

  // Default: a step function calls the model. `inline` (judge 10): the loop calls the model itself and
  // never returns; the step found was main, never called again ("main was not called again within
  // 24 s, so no torch profile was taken"): the step is then the model's forward.
  for (const [args, stepName, why] of [[[], 'predict_step', 'not predict_step that calls the model; the step second (issue 20, item 6)'],
    [['inline'], 'RankingModel.forward', 'the step is the model\'s forward when the loop that calls it never returns (judge 10)'],
    [['threads'], 'predict_step', 'two threads call the step: the other call ends the agent\'s stream first, and the profiled call\'s file is waited for (judge 12)']] as const) {
    it(`torch_model_service.py${args.length ? ` ${args.join(' ')}` : ''}: PairwiseMixer.forward first, ${why}`, async () => {
      const service = await startTarget(['torch_model_service.py', ...args], undefined, 60_000);
      const session = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 500 });
      await session.attach();
      try {
        const report = await diagnose(session, 'inference is slow', { budgetSeconds: 25 });
        assert.equal(report.kind, 'torch');
        const [module, step] = report.findings;
        assert.match(module.title, new RegExp(`^PairwiseMixer\\.forward costs most: \\d+% of ${stepName.replace('.', '\\.')}'s operator CPU time \\(aten::`), report.findings.map((f) => f.title).join('\n'));
        assert.equal(module.about, 'module');
        assert.equal(module.location?.function, 'PairwiseMixer.forward');
        assert.equal(module.location?.file, path.join(FIXTURES, 'torch_model_service.py'));
        assert.equal(module.location?.line, forwardLine(path.join(FIXTURES, 'torch_model_service.py'), 'PairwiseMixer'));
        assert.equal(step.location?.function, stepName);
        assert.equal(step.severity, 'medium');
        assert.equal(report.summary, `${module.title}.`);
        // Embedder and ScoreHead are modules of the user's too, each with its own (small) share.
        assert.ok(!report.findings.some((f) => f.about === 'module' && /^RankingModel\.forward/.test(f.title)), 'the outer model is not charged for its submodules');
        rmSync(path.dirname(/: (\/\S+\.json)/.exec(module.next_steps[1])![1]), { recursive: true, force: true });
      } finally {
        await session.detach();
      }
    });
  }
});

describe('torch: a training loop whose time goes to its data, not the model (torch_input_bound.py)', function () {
  this.timeout(180_000);
  after(stopAllTargets);

  // Judge 13: the model of a CTR trainer ran in 2 of 568 CPU samples, its Dataset unpickled a whole
  // shard per sample, and the diagnosis led with "CTRModel.forward costs most: 112% …".
  it('what computes leads (the per-sample lookup), and a note says torch is a sliver of the CPU', async () => {
    const service = await startTarget(['torch_input_bound.py'], undefined, 90_000);
    const session = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 500 });
    await session.attach();
    try {
      const steps: string[] = [];
      const report = await diagnose(session, 'training is slow', { budgetSeconds: 30 }, (s) => steps.push(s));
      const said = `${report.findings.map((f) => f.title).join('\n')}\n--- steps:\n${steps.join('\n')}`;
      assert.equal(report.kind, 'torch', said);
      assert.equal(report.findings[0].location?.function, 'FeatureFile.lookup', said);
      assert.equal(report.findings[0].location?.file, path.join(FIXTURES, 'torch_input_bound.py'), said);
      const note = report.findings.find((f) => /^The model is not what is slow: the DataLoader fetching from the Dataset is on the stack in [\d.]+% of the CPU samples$/.test(f.title));
      assert.ok(note, said);
      assert.equal(note.severity, 'info');
      assert.ok(!report.commands_run.some((c) => / torch \d+ profile /.test(c)), report.commands_run.join('\n'));
    } finally {
      await session.detach();
    }
  });
});

describe('torch: a target that never imported torch', function () {
  this.timeout(60_000);
  const attached = useAttachedService(['plain_sleeper.py']);
  let target: Target;
  let session: Session;
  before(() => ({ service: target, session } = attached));

  it('says so plainly, loads no agent and imports nothing into it', async () => {
    for (const run of [() => profileTorchCall(session, { module: '__main__', method: 'main' }), () => torchMemoryRun(session, {})]) {
      await assert.rejects(run(), (e: PyFlightError) => e.code === ErrorCode.TorchMissing
        && e.message === `Process ${target.pid} has not imported torch (no libtorch is loaded in it), so there is nothing for torch profile / torch memory to measure.`);
    }
    assert.equal(session.agentLoaded, false, 'checked from outside, before any agent');
    assert.equal(torchLoaded(target.pid), false);
  });
});
