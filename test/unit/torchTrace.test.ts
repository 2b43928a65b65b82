import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { findTorchStep, leastOfEach } from '../../src/diagnose/torch';
import { profileFromCollapsed } from '../../src/profile/model';
import { traceTimeline } from '../../src/torch/timeline';
import { summarizeTrace } from '../../src/torch/traceSummary';
import { opLine, profileSummaryMarkdown } from '../../src/torch/torchText';

// Recorded from real runs on test/fixtures/torch_service.py: see test/fixtures/recorded/torch/README.md.
const RECORDED = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'torch');
const trace = JSON.parse(readFileSync(path.join(RECORDED, 'profile-inference_step.json'), 'utf8'));

describe('torch trace summary (recorded torch profile of one inference_step call)', () => {
  const summary = summarizeTrace(trace);

  it('lists the operators by self CPU time with calls and the shapes they ran on', () => {
    const self = summary.ops.map((o) => o.selfCpuUs);
    assert.deepEqual(self, [...self].sort((a, b) => b - a));
    const addmm = summary.ops.find((o) => o.name === 'aten::addmm')!;
    assert.equal(addmm.calls, 2);
    assert.deepEqual([...addmm.shapes].sort(), ['[256], [64, 512], [512, 256]', '[512], [64, 256], [256, 512]']);
    assert.equal(summary.ops.find((o) => o.name === 'aten::mm')!.calls, 4);
    assert.equal(summary.opEvents, 42);
    assert.equal(summary.totalCudaUs, 0);
  });

  it('self time excludes child operators: aten::linear is mostly its aten::addmm', () => {
    const linear = summary.ops.find((o) => o.name === 'aten::linear')!;
    assert.ok(linear.selfCpuUs < linear.cpuUs / 2, `${linear.selfCpuUs} of ${linear.cpuUs}`);
    const total = summary.ops.reduce((sum, o) => sum + o.selfCpuUs, 0);
    assert.ok(Math.abs(total - summary.totalSelfCpuUs) < 1e-6);
  });

  it('attributes operators to the nn.Module path and the own Python frame from the trace\'s Python stack', () => {
    assert.ok(summary.withStack);
    const addmm = summary.ops.find((o) => o.name === 'aten::addmm')!;
    assert.equal(addmm.modulePath, 'TinyMLP › Linear');
    assert.deepEqual(addmm.caller, { file: 'torch_service.py', line: 24, function: 'forward' });
    const relu = summary.ops.find((o) => o.name === 'aten::relu')!;
    assert.equal(relu.modulePath, 'TinyMLP › ReLU');
    const mm = summary.ops.find((o) => o.name === 'aten::mm')!;
    assert.equal(mm.modulePath, null, 'score is not inside a module');
    assert.deepEqual(mm.caller, { file: 'torch_service.py', line: 32, function: 'score' });
    assert.deepEqual(summary.modules.map((m) => m.path).sort(), ['TinyMLP › Linear', 'TinyMLP › ReLU']);
    assert.deepEqual(summary.callers.map((c) => c.function).sort(), ['forward', 'score']);
    // The user's module: torch's Linear and ReLU inside TinyMLP count for TinyMLP (whose forward is in torch_service.py).
    assert.deepEqual(summary.ownModules.map((m) => [m.class, m.forward.line]), [['TinyMLP', 24]]);
    assert.equal(summary.ownModules[0].ops[0], 'aten::addmm');
    assert.ok(!summary.ownModules[0].ops.includes('aten::mm'), 'score is not inside a module');
  });

  it('reads as one line per operator', () => {
    const addmm = summary.ops.find((o) => o.name === 'aten::addmm')!;
    assert.match(opLine(addmm, summary.totalSelfCpuUs, false), /^aten::addmm {2}self CPU .* 2 calls, shapes \[.*\], in TinyMLP › Linear, from forward \(torch_service\.py:24\)$/);
  });

  it('as Markdown: tables whose target text is escaped (the editor\'s preview)', () => {
    const result = { file: '/x/torch-profile-1.json', bytes: 1, args: '', elapsedMs: 1, cudaAvailable: false, torchVersion: '2.13.0+cpu', enabledWithoutCuda: true };
    const md = profileSummaryMarkdown(result, summary, '__main__ inference_step');
    assert.match(md, /^# torch profile of \\_\\_main\\_\\_ inference\\_step\n/);
    assert.match(md, /\n\| 1 \| aten::addmm \| [\d.]+ (ms|µs) \| [\d.]+% \| 2 \| /);
    assert.ok(md.includes('| TinyMLP › Linear | forward \\(torch\\_service\\.py:24\\) |'), 'module and caller cells, escaped');
    assert.doesNotMatch(md, /<|```/);
  });

  it('an empty or foreign JSON gives an empty summary, not an exception', () => {
    assert.equal(summarizeTrace({}).ops.length, 0);
    assert.equal(summarizeTrace([{ ph: 'X', cat: 'cpu_op' }]).ops.length, 0);
  });
});

describe('torch step finder (recorded py-spy profile of torch_service.py)', () => {
  it('picks the outermost own function that calls into torch, not the loop around it', () => {
    const profile = profileFromCollapsed(readFileSync(path.join(RECORDED, 'torch-service.raw.txt'), 'utf8'));
    const step = findTorchStep(profile)!;
    assert.equal(step.function, 'inference_step');
    assert.equal(path.basename(step.file), 'torch_service.py');
    assert.ok(step.inTorch > 0 && step.inTorch <= step.total);
  });
});

describe('torch timeline (recorded torch profile of one inference_step call)', () => {
  it('lays the call\'s operators out in time, one lane per nesting level, with their context', () => {
    const view = traceTimeline(trace, 'torch profile of x', 'x.json');
    assert.equal(view.bars.length, 42);
    assert.equal(view.leftOut, 0);
    assert.equal(view.bars[0].startUs, 0);
    const starts = view.bars.map((b) => b.startUs);
    assert.deepEqual(starts, [...starts].sort((a, b) => a - b));
    assert.ok(view.bars.every((b) => b.startUs + b.durUs <= view.totalUs + 0.01));
    assert.ok(view.lanes >= 3, 'linear → addmm → copy_ nest');
    const addmm = view.bars.find((b) => b.name === 'aten::addmm')!;
    assert.equal(addmm.module, 'TinyMLP › Linear');
    assert.equal(addmm.caller, 'forward (torch_service.py:24)');
    assert.equal(addmm.depth, 1, 'inside aten::linear');
  });

  it('keeps the longest operators when there are more than it draws', () => {
    const view = traceTimeline(trace, 't', 'x.json', 5);
    assert.equal(view.bars.length, 5);
    assert.equal(view.leftOut, 37);
    assert.ok(view.bars.some((b) => b.name === 'aten::linear'));
  });
});

describe('torch diagnosis over several calls: each figure is its least over the calls (leastOfEach)', () => {
  // The recorded call, and two copies in which a wait for a CPU landed on one operator: on the
  // model's aten::addmm in one, on score's aten::mm in the other (what a loaded host did in CI).
  const clean = summarizeTrace(trace);
  const waited = (op: string, extraUs: number) => {
    const s = summarizeTrace(trace);
    for (const o of s.ops) if (o.name === op) o.selfCpuUs += extraUs;
    for (const m of s.ownModules) if (m.ops.includes(op)) m.selfCpuUs += extraUs;
    s.totalSelfCpuUs += extraUs;
    return s;
  };
  const share = (s: typeof clean) => s.ownModules[0].selfCpuUs / s.totalSelfCpuUs;

  it('gives the undisturbed shares back, whichever call was quickest overall', () => {
    const modelWaited = waited('aten::addmm', clean.totalSelfCpuUs * 2);
    const scoreWaited = waited('aten::mm', clean.totalSelfCpuUs);
    assert.ok(share(modelWaited) > 0.5, 'the disturbed call alone puts the model first');
    const merged = leastOfEach(scoreWaited, [modelWaited, scoreWaited, clean]);
    assert.ok(Math.abs(share(merged) - share(clean)) < 0.01, `${share(merged)} vs ${share(clean)}`);
    assert.ok(Math.abs(merged.totalSelfCpuUs - clean.totalSelfCpuUs) < 1);
    // Without the clean call the least of each is still the undisturbed time of each operator.
    assert.ok(Math.abs(share(leastOfEach(modelWaited, [modelWaited, scoreWaited])) - share(clean)) < 0.01);
  });
});
