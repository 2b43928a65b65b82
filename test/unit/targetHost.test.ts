import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { importGraph } from '../support/importGraph';

const root = path.resolve(__dirname, '..', '..', '..');
const edges = importGraph(root, ['src']);
/** common/execa.ts is execa itself, loaded on first use. */
const outsideHost = (file: string) => !file.startsWith('src/host/') && file !== 'src/common/execa.ts';

/**
 * What still starts a process without the target's host, each with its reason. A new spawn that
 * touches the target belongs in src/host/ (TargetHost), so a container host can change it in one place.
 */
const SPAWNS_OUTSIDE_THE_HOST: Record<string, string> = {
  'src/preflight/installProfiler.ts': 'pip: into the target\'s environment, asked for by the user; and readerVenv.ts\'s venv of the target\'s interpreter in PyFlight\'s own cache (nothing touches the target), only for an interpreter on this filesystem',
  'src/preflight/targetFacts.ts': 'macOS: ps and lsof (no /proc there; containers are Linux)',
  'src/processes/processLister.ts': 'macOS: ps (no /proc there)',
};

/** Code (comments left out) of a source file. */
const code = (file: string) => readFileSync(path.join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');

describe('the target host is the one seam for where the target lives (src/host)', () => {
  it('only the host starts processes (the helper, py-spy), apart from the listed exceptions', () => {
    const spawning = [...new Set(edges.filter((e) => outsideHost(e.from) && !e.typeOnly
      && (e.to === 'node:child_process' || e.to === 'child_process' || e.to === 'execa' || e.to === 'src/common/execa.ts'))
      .map((e) => e.from))].sort();
    assert.deepEqual(spawning, Object.keys(SPAWNS_OUTSIDE_THE_HOST).sort());
  });

  it('only the host reads /proc: no file outside it that reads files names a /proc path', () => {
    const readers = [...new Set(edges.filter((e) => outsideHost(e.from) && !e.typeOnly && /^(node:)?fs(\/promises)?$/.test(e.to))
      .map((e) => e.from))];
    assert.ok(readers.length > 3, `${readers.length} files read files`);
    const procReaders = readers.filter((file) => /['"`]\/proc\//.test(code(file)));
    assert.deepEqual(procReaders, []);
  });
});
