// `npm test`: set-up, then every lane (unit, python, integration, faults, e2e), then one line that sums
// them: `N passed, N failed, N skipped`. `npm test -- unit` (or python/integration/faults/matrix/e2e) runs one lane.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const venvPython = join(root, '.venv', 'bin', 'python');
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const wants = (lane) => only.length === 0 || only.includes(lane);

const setup = spawnSync(process.execPath, [join(root, 'scripts', 'setup.mjs')], { cwd: root, stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);

const mocha = join(root, 'node_modules', '.bin', 'mocha');
const lanes = [
  { name: 'unit', cmd: mocha, args: ['--reporter', 'spec', 'out/test/unit/**/*.test.js'] },
  { name: 'python', cmd: venvPython, args: ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'python/tests'] },
  { name: 'integration', cmd: mocha, args: ['--reporter', 'spec', '--timeout', '60000', 'out/test/integration/**/*.test.js'] },
  // Faults: real targets under bad input, crashes, exits, cancels and a soak (test/faults).
  { name: 'faults', cmd: mocha, args: ['--reporter', 'spec', '--timeout', '120000', 'out/test/faults/**/*.test.js'] },
  // Every CPython PyFlight is tested on (pyenv's 3.10–3.13, the system's python3): test/matrix.
  { name: 'matrix', cmd: mocha, args: ['--reporter', 'spec', '--timeout', '600000', 'out/test/matrix/**/*.test.js'] },
  { name: 'e2e', cmd: process.execPath, args: ['test/e2e/run.mjs'] },
];

/** Counts from mocha (N passing/failing/pending), pytest (N passed/failed/skipped) or our e2e line. */
export function countsOf(output) {
  const num = (re) => [...output.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);
  const e2e = /^e2e: (\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(output);
  if (e2e) return { passed: +e2e[1], failed: +e2e[2], skipped: +e2e[3] };
  if (/\d+ passing/.test(output) || /\d+ failing/.test(output)) {
    return { passed: num(/(\d+) passing/g), failed: num(/(\d+) failing/g), skipped: num(/(\d+) pending/g) };
  }
  const summary = output.split('\n').reverse().find((l) => /\d+ (passed|failed|skipped|error)/.test(l)) ?? '';
  const pick = (word) => Number(new RegExp(`(\\d+) ${word}`).exec(summary)?.[1] ?? 0);
  return { passed: pick('passed'), failed: pick('failed') + pick('errors?'), skipped: pick('skipped') };
}

/**
 * The failures of a lane in a few lines (mocha's numbered list, pytest's FAILED lines, e2e's ✖):
 * repeated after every lane, just above the total, because CI shows only the end of the output.
 */
export function failureDigest(output, maxLines = 40) {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => /^\s+\d+ failing\b/.test(l));
  const picked = start >= 0 ? lines.slice(start + 1).filter((l) => l.trim() && !/^\s+at /.test(l))
    : lines.filter((l) => /^(FAILED|ERROR) |^E\s{3}|✖ /.test(l));
  return picked.slice(0, maxLines).map((l) => l.slice(0, 300));
}

const digests = [];

function runLane(lane) {
  return new Promise((resolve) => {
    console.log(`\n=== ${lane.name} ===`);
    const child = spawn(lane.cmd, lane.args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { process.stdout.write(d); output += d; });
    child.stderr.on('data', (d) => { process.stderr.write(d); output += d; });
    child.on('close', (code) => {
      const counts = countsOf(output);
      // A lane that failed without reporting a failed test (crash, import error) counts as one failure.
      if (code !== 0 && counts.failed === 0) counts.failed = 1;
      if (counts.failed) digests.push(`--- ${lane.name} ---`, ...(failureDigest(output).length ? failureDigest(output) : output.trim().split('\n').slice(-15)));
      console.log(`${lane.name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
      resolve(counts);
    });
  });
}

const total = { passed: 0, failed: 0, skipped: 0 };
for (const lane of lanes.filter((l) => wants(l.name))) {
  const c = await runLane(lane);
  total.passed += c.passed;
  total.failed += c.failed;
  total.skipped += c.skipped;
}
if (digests.length) console.log(['', '=== what failed (details above, in each lane) ===', ...digests].join('\n'));
console.log(`\n${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed ? 1 : 0);
