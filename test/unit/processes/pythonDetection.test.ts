import assert from 'node:assert/strict';
import { parseCmdline } from '../../../src/processes/procfsParser';
import { detectServers, isPyPy, isPythonName, programName, serverHint } from '../../../src/processes/pythonDetection';
import { recordedProcFile } from './recorded';

const commandLineOf = (pid: number) => parseCmdline(recordedProcFile(pid, 'cmdline')).join(' ');

describe('pythonDetection', () => {
  const names: Array<[string, boolean]> = [
    ['python', true], ['python3', true], ['python3.11', true], ['/usr/bin/python3.11', true], ['pythonw', true],
    ['python3.13t', true], ['python3.12d', true],
    ['/Library/Frameworks/Python.framework/Versions/3.12/Resources/Python.app/Contents/MacOS/Python', true],
    ['python3-config', false], ['ipython', false], ['pypy3', false], ['node', false], ['', false],
  ];
  for (const [name, expected] of names) {
    it(`isPythonName(${JSON.stringify(name)}) → ${expected}`, () => assert.equal(isPythonName(name), expected));
  }

  it('isPyPy marks PyPy by executable or argv[0]', () => {
    assert.equal(isPyPy({ commandLine: '/opt/pypy/bin/pypy3.10 app.py' }), true);
    assert.equal(isPyPy({ commandLine: 'app', executable: '/opt/pypy/bin/pypy' }), true);
    assert.equal(isPyPy({ commandLine: commandLineOf(7994), executable: recordedProcFile(7994, 'exe') }), false);
  });

  const programs: Array<[argv: string[], program: string | undefined]> = [
    [parseCmdline(recordedProcFile(7989, 'cmdline')), 'gunicorn'],
    [parseCmdline(recordedProcFile(7990, 'cmdline')), 'celery'],
    [parseCmdline(recordedProcFile(7994, 'cmdline')), 'sleeper.py'],
    [parseCmdline(recordedProcFile(8000, 'cmdline')), undefined], // -c
    [parseCmdline(recordedProcFile(7995, 'cmdline')), 'sleep'],
    [['python3', '-X', 'dev', '-m', 'celery', '-A', 'proj', 'worker'], 'celery'],
    [['python', '-u', '-W', 'ignore', 'app.py'], 'app.py'],
  ];
  for (const [argv, program] of programs) {
    it(`programName(${argv.slice(0, 3).join(' ')}…) → ${program}`, () => assert.equal(programName(argv), program));
  }

  // Recorded command lines; role only where the title says it, the rest is decided from the parent.
  const hints: Array<[pid: number, hint: ReturnType<typeof serverHint>]> = [
    [7988, { kind: 'gunicorn', role: 'master' }],
    [7999, { kind: 'gunicorn', role: 'worker' }],
    [7989, { kind: 'gunicorn' }],
    [8002, { kind: 'gunicorn' }],
    [7990, { kind: 'celery' }],
    [7991, { kind: 'uvicorn' }],
    [8000, { spawnChild: true }],
    [7998, undefined], // resource tracker
    [7992, { kind: 'celery', role: 'master' }],
    [8007, { kind: 'celery', role: 'worker' }],
    [7994, undefined],
    [7995, undefined],
  ];
  for (const [pid, hint] of hints) {
    it(`serverHint(${pid}: ${commandLineOf(pid).slice(0, 40)}) → ${JSON.stringify(hint)}`, () => {
      assert.deepEqual(serverHint(commandLineOf(pid)), hint);
    });
  }

  it('detectServers: a uvicorn spawn child is a worker only under a uvicorn master', () => {
    const child = { pid: 8000, ppid: 7991, user: 'cloudsdk', commandLine: commandLineOf(8000), isPython: true };
    const uvicorn = { pid: 7991, ppid: 1, user: 'cloudsdk', commandLine: commandLineOf(7991), isPython: true };
    const plain = { ...uvicorn, commandLine: commandLineOf(7994) };
    assert.deepEqual(detectServers([uvicorn, child]).map((p) => p.server),
      [{ kind: 'uvicorn', role: 'master' }, { kind: 'uvicorn', role: 'worker' }]);
    assert.deepEqual(detectServers([plain, child]).map((p) => p.server), [undefined, undefined]);
  });
});
