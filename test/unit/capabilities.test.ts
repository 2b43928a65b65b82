// The one capability table (python/pyflight_helper/capabilities.json): well-formed, and README's
// "Requirements per interpreter" is rendered from it. PYFLIGHT_WRITE_README=1 rewrites README's table.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CAPABILITY_FAMILIES, CAPABILITY_FEATURES, capabilityLines, renderRequirementsTable, untestedWarning, type CapabilityReport } from '../../src/preflight/capabilities';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const README = path.join(ROOT, 'README.md');
const BEGIN = '<!-- capabilities.json: begin (test/unit/capabilities.test.ts; PYFLIGHT_WRITE_README=1 rewrites it) -->';
const END = '<!-- capabilities.json: end -->';

function reportOf(id: string): CapabilityReport {
  const row = CAPABILITY_FAMILIES.find((f) => f.id === id)!;
  return { family: row.id, label: row.label, tested: row.testedOn.length > 0, testedOn: row.testedOn,
    facts: { implementation: 'CPython', version: `${row.match.min[0]}.${row.match.min[1]}.0`, minor: [row.match.min[0], row.match.min[1]], freeThreaded: !!row.match.freeThreaded, stripped: !!row.match.stripped },
    features: Object.fromEntries(Object.entries(row.features).map(([k, v]) => [k, { ...v, title: CAPABILITY_FEATURES[k].title, agent: CAPABILITY_FEATURES[k].agent }])) };
}

describe('capability table', () => {
  it('every row has every feature with a known status; a refusal says why and what to do instead', () => {
    const keys = Object.keys(CAPABILITY_FEATURES).sort();
    for (const row of CAPABILITY_FAMILIES) {
      assert.deepEqual(Object.keys(row.features).sort(), keys, row.id);
      for (const [key, c] of Object.entries(row.features)) {
        assert.ok(['tested', 'fallback', 'untested', 'refused'].includes(c.status), `${row.id}.${key}`);
        if (c.status === 'refused') assert.ok(c.reason && c.next, `${row.id}.${key} refused without reason and next step`);
        if (c.status === 'tested' || c.status === 'fallback') assert.ok(row.testedOn.length > 0, `${row.id}.${key}: tested where?`);
      }
    }
  });

  it('the tested set is CPython 3.10–3.13 (+ stripped); outside it, every agent feature is refused and read-only ones are not', () => {
    const tested = CAPABILITY_FAMILIES.filter((f) => f.testedOn.length).map((f) => f.id);
    assert.deepEqual(tested, ['cpython-3.10-3.13-stripped', 'cpython-3.10', 'cpython-3.11', 'cpython-3.12', 'cpython-3.13']);
    assert.ok(Object.values(CAPABILITY_FAMILIES.find((f) => f.id === 'not-cpython')!.features).every((c) => c.status === 'refused'), 'PyPy: nothing');
    for (const id of ['cpython-3.8-3.9', 'cpython-3.14', 'cpython-free-threaded', 'cpython-future']) {
      const row = CAPABILITY_FAMILIES.find((f) => f.id === id)!;
      for (const [key, spec] of Object.entries(CAPABILITY_FEATURES)) {
        if (spec.agent) assert.equal(row.features[key].status, 'refused', `${id}.${key}`);
        else assert.equal(row.features[key].status, 'untested', `${id}.${key}`);
      }
      const warning = untestedWarning(reportOf(id));
      assert.match(warning ?? '', /is not tested with PyFlight.*Refused here: .*stacks and CPU profiles .* still work/, id);
    }
    assert.equal(CAPABILITY_FAMILIES.find((f) => f.id === 'cpython-free-threaded')!.features.gilstat.overridable, undefined, 'no GIL to measure: not overridable');
    assert.equal(untestedWarning(reportOf('cpython-3.12')), undefined);
  });

  it('check\'s lines name the row, whether it is tested, and each feature', () => {
    const lines = capabilityLines(reportOf('cpython-3.14'));
    assert.match(lines[0], /^CPython 3\.14: NOT tested here$/);
    assert.ok(lines.some((l) => /watch, trace.*refused — not tested here: 3\.14 loads the agent through flight-profiler's client/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^ {2}stack\s+not tested here — py-spy and pystack/.test(l)), lines.join('\n'));
  });

  it('the .vsix ships every JSON file the helper reads (capabilities.json was left out once: every attach failed)', () => {
    const allowed = readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const file of readdirSync(path.join(ROOT, 'python', 'pyflight_helper')).filter((f) => f.endsWith('.json'))) {
      assert.ok(allowed.includes(`!python/pyflight_helper/${file}`), `.vscodeignore leaves out python/pyflight_helper/${file}`);
    }
  });

  it('README\'s "Requirements per interpreter" is the table', () => {
    const readme = readFileSync(README, 'utf8');
    const begin = readme.indexOf(BEGIN);
    const end = readme.indexOf(END);
    assert.ok(begin >= 0 && end > begin, `README has no ${BEGIN} … ${END} block`);
    const want = `${BEGIN}\n${renderRequirementsTable()}\n${END}`;
    const have = readme.slice(begin, end + END.length);
    if (have !== want && process.env.PYFLIGHT_WRITE_README === '1') {
      writeFileSync(README, readme.slice(0, begin) + want + readme.slice(end + END.length));
      return;
    }
    assert.equal(have, want, 'README differs from capabilities.json: run the unit lane with PYFLIGHT_WRITE_README=1');
  });
});
