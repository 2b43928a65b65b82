import assert from 'node:assert/strict';
import { interpreterCandidates, looksLikePython } from '../../src/preflight/interpreter';
import type { TargetFacts } from '../../src/preflight/targetFacts';
import { isPythonProcess } from '../../src/processes/pythonDetection';

const facts = (exe: string | undefined, argv0: string): TargetFacts =>
  ({ pid: 42, exe, argv: [argv0, 'app.py'], cwd: '/srv', env: { PATH: '/usr/local/bin:/usr/bin' }, sitePackages: [], exeUnreadable: false });

/** One rule for "is this a Python executable": what the picker lists as Python, preflight accepts. */
describe('one rule for a Python executable (picker and preflight agree)', () => {
  const names: Array<[string, boolean]> = [
    ['/usr/bin/python3', true], ['/usr/bin/python3.11', true], ['/usr/local/bin/python3.13t', true], ['/usr/bin/python3.12d', true],
    ['/opt/py/bin/pythonw', true], ['/Library/Frameworks/Python.framework/Versions/3.12/Resources/Python.app/Contents/MacOS/Python', true],
    ['/usr/bin/python3-config', false], ['/usr/bin/ipython', false], ['/opt/pypy/bin/pypy3', false], ['/usr/bin/node', false],
  ];
  for (const [exe, expected] of names) {
    it(`${exe}: picker ${expected ? 'lists' : 'does not list'} it as Python and preflight ${expected ? 'accepts' : 'rejects'} it`, () => {
      assert.equal(isPythonProcess(exe, exe), expected, 'picker');
      assert.equal(looksLikePython(facts(exe, exe)), expected, 'preflight');
    });
  }

  it('a free-threaded interpreter named on the command line is an interpreter candidate (argv)', () => {
    const candidates = interpreterCandidates(facts('/usr/local/bin/python3.13t', 'python3.13t'));
    assert.deepEqual(candidates.filter((c) => c.source === 'argv').map((c) => c.python), ['/usr/local/bin/python3.13t', '/usr/bin/python3.13t']);
  });
});
