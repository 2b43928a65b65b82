import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { interpreterCandidates, looksLikePython, resolveInterpreter } from '../../src/preflight/interpreter';
import { parseEnviron, parseMapsSitePackages, parsePsUidComm, type TargetFacts } from '../../src/preflight/targetFacts';

const RECORDED = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'procfs');
const facts = (name: string) => JSON.parse(readFileSync(path.join(RECORDED, name), 'utf8')) as TargetFacts;

describe('target facts parsers (recorded /proc)', () => {
  it('parseEnviron keeps only the variables used to find the environment', () => {
    const env = parseEnviron(readFileSync(path.join(RECORDED, 'environ-env-i.bin'), 'latin1'));
    assert.deepEqual(env, { VIRTUAL_ENV: '/work/main/.venv', CONDA_PREFIX: '/opt/conda', PATH: '/work/main/.venv/bin:/usr/bin' });
  });

  it('parseMapsSitePackages finds the venv site-packages the process maps files from', () => {
    const maps = readFileSync(path.join(RECORDED, 'maps-excerpt-attached-venv.txt'), 'utf8');
    assert.deepEqual(parseMapsSitePackages(maps), ['/work/main/.venv/lib/python3.11/site-packages']);
  });

  it('parsePsUidComm reads uid and command name (recorded with procps ps)', () => {
    assert.deepEqual(parsePsUidComm(readFileSync(path.join(RECORDED, 'ps-uid-comm-linux.txt'), 'utf8')), { uid: 0, exe: 'python' });
    assert.equal(parsePsUidComm(''), undefined);
  });
});

describe('interpreterCandidates', () => {
  it('resolves a relative argv[0] against the target cwd before falling back to /proc/<pid>/exe', () => {
    const c = interpreterCandidates(facts('venv-relative-argv.json'));
    assert.deepEqual(c.map((x) => [x.source, x.python]), [
      ['argv', '/work/main/.venv/bin/python'],
      ['exe', '/root/.pyenv/versions/3.11.7/bin/python3.11'],
    ]);
  });

  it('looks a bare argv[0] up on the target PATH, then VIRTUAL_ENV', () => {
    const c = interpreterCandidates(facts('path-lookup-with-virtual-env.json'));
    assert.deepEqual(c.map((x) => [x.source, x.python]), [
      ['argv', '/work/main/.venv/bin/python'],
      ['argv', '/usr/bin/python'],
      ['argv', '/bin/python'],
      ['VIRTUAL_ENV', '/work/main/.venv/bin/python'],
      ['exe', '/root/.pyenv/versions/3.11.7/bin/python3.11'],
    ]);
  });

  it('puts the configured interpreter first', () => {
    const c = interpreterCandidates(facts('venv-relative-argv.json'), '/opt/py/bin/python');
    assert.deepEqual(c[0], { python: '/opt/py/bin/python', source: 'setting' });
  });

  it('uses site-packages from the maps as a venv hint', () => {
    const f = { ...facts('venv-relative-argv.json'), argv: ['gunicorn'], sitePackages: ['/srv/app/.venv/lib/python3.11/site-packages'] };
    assert.deepEqual(interpreterCandidates(f).map((x) => x.python), ['/srv/app/.venv/bin/python', '/root/.pyenv/versions/3.11.7/bin/python3.11']);
  });

  it('looksLikePython by executable, argv[0] or mapped site-packages', () => {
    assert.equal(looksLikePython(facts('venv-relative-argv.json')), true);
    assert.equal(looksLikePython({ ...facts('venv-relative-argv.json'), exe: '/usr/bin/sleep', argv: ['sleep', '60'] }), false);
    assert.equal(looksLikePython({ ...facts('venv-relative-argv.json'), exe: '/usr/bin/uwsgi', argv: ['uwsgi'],
      sitePackages: ['/srv/.venv/lib/python3.11/site-packages'] }), true);
  });
});

describe('resolveInterpreter: a configured venv of the same binary, in another environment than the target\'s', () => {
  // Real files: a "system" interpreter, the target's argv[0] pointing at it, and a venv of it elsewhere.
  const dir = mkdtempSync(path.join(tmpdir(), 'pyflight-interp-'));
  const system = path.join(dir, 'usr', 'bin', 'python3.11');
  const reader = path.join(dir, 'reader', 'bin', 'python');
  const sameEnv = path.join(dir, 'usr', 'bin', 'python3');
  before(() => {
    mkdirSync(path.dirname(system), { recursive: true });
    mkdirSync(path.dirname(reader), { recursive: true });
    writeFileSync(system, '');
    symlinkSync(system, reader);
    symlinkSync(system, sameEnv);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const target = (): TargetFacts => ({ pid: 1, exe: system, argv: [system, 'app.py'], env: {}, sitePackages: [], exeUnreadable: false });

  it('names the target\'s own interpreter (targetPython): PyFlight reads from outside and does not load its agent', async () => {
    const resolved = await resolveInterpreter(target(), reader);
    assert.equal(resolved.python, reader);
    assert.equal(resolved.source, 'setting');
    assert.equal(resolved.targetPython, system);
  });

  it('a setting in the target\'s own environment, or none, is not a reader', async () => {
    assert.equal((await resolveInterpreter(target(), sameEnv)).targetPython, undefined);
    assert.equal((await resolveInterpreter(target())).targetPython, undefined);
  });
});
